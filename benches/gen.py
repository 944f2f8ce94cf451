#!/usr/bin/env python3
"""Generates a nightly-report-like CSV for benchmarks: N rows, a realistic mix
of columns (numeric ids with some UUIDs, money with $ and thousands
separators, flags, dispositions, notes, a contact field), all valid.

    benches/gen.py ROWS OUT.csv [--uuid-share 0.15] [--set-only]
"""
import argparse
import random
import uuid

p = argparse.ArgumentParser()
p.add_argument("rows", type=int)
p.add_argument("out")
p.add_argument("--uuid-share", type=float, default=0.15)
p.add_argument("--set-only", action="store_true", help="no add_revenue rows (safe to send twice)")
p.add_argument("--first-id", type=int, default=100000001)
a = p.parse_args()

rnd = random.Random(42)
money = ["$1,234.50", "25.00", "$18", "0.00", "12.5", "$60.00", "35.75", "1,050.00"]
flags = ["Yes", "no", "TRUE", "1", "0", "yes"]
notes = ["", "", "", "Left voicemail", "Sale confirmed, \"premium\" plan", ""]
with open(a.out, "w", newline="") as f:
    f.write("Call ID,Call UUID,Revenue,Add Revenue,Payout,Buyer Converted,Offer Converted,"
            "call_disposition_id,Agent Call Disposition Notes,token:zip_code\r\n")
    for i in range(a.rows):
        cid = a.first_id + i
        if rnd.random() < a.uuid_share:
            ids = f",{uuid.UUID(int=rnd.getrandbits(128), version=4)}"
        else:
            ids = f"{cid},"
        if not a.set_only and rnd.random() < 0.05:
            amounts = f',,-{rnd.choice(["15.00", "20.00"])},'
        else:
            r = rnd.choice(money)
            r = f'"{r}"' if "," in r else r
            amounts = f",{r},,{rnd.choice(['5.00', '8.50', '$10'])}"
        note = rnd.choice(notes)
        note = f'"{note.replace(chr(34), chr(34) * 2)}"' if ("," in note or '"' in note) else note
        f.write(f"{ids}{amounts},{rnd.choice(flags)},{rnd.choice(flags)},{rnd.choice(['', '3', '4', '7'])},"
                f"{note},{rnd.randint(10000, 99999)}\r\n")
