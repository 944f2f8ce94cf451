//! The parsing limit for `tdrecon validate`: a bare csv-crate `ByteRecord`
//! loop over the same file, counting records and bytes and nothing else.
//!
//!     cargo bench --bench csv_baseline -- FILE
use std::time::Instant;

fn main() {
    let Some(path) = std::env::args().skip(1).find(|a| !a.starts_with('-')) else {
        eprintln!("usage: cargo bench --bench csv_baseline -- FILE");
        std::process::exit(2);
    };
    let start = Instant::now();
    let mut rdr = match csv::ReaderBuilder::new().flexible(true).from_path(&path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{path}: {e}");
            std::process::exit(2);
        }
    };
    let mut record = csv::ByteRecord::new();
    let (mut records, mut bytes) = (0u64, 0u64);
    loop {
        match rdr.read_byte_record(&mut record) {
            Ok(true) => {
                records += 1;
                bytes += record.as_slice().len() as u64;
            }
            Ok(false) => break,
            Err(e) => {
                eprintln!("{path}: {e}");
                std::process::exit(2);
            }
        }
    }
    let secs = start.elapsed().as_secs_f64();
    println!("{records} records, {bytes} field bytes, {secs:.3} s, {:.0} records/s", records as f64 / secs);
}
