//! Durable state, in one room: what outlives a request. `journal` makes a
//! run safe to stop at any moment (each row's intent before its request,
//! its outcome after), `ledger` remembers across runs what each account was
//! sent, `run_lock` keeps a second run off a live one's files, `rate_memory`
//! keeps the rate `--rate auto` found, `state` says where per-account state
//! lives and what an account is (its host).

pub mod journal;
pub mod ledger;
pub mod rate_memory;
pub mod run_lock;
pub mod state;
