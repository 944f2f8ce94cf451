#!/usr/bin/env python3
"""Writes a CSV file as an .xlsx the way Excel stores it: numbers as number
cells, text in the shared-strings table, one sheet, in one streaming pass
(standard library only), so a million-row workbook costs no memory here.

    benches/xlsx.py IN.csv OUT.xlsx [PAD]

PAD more distinct short texts in the shared strings (a workbook's others
sheets' text, which calamine holds too): the worst case of its memory.
"""
import csv
import re
import sys
import zipfile
from xml.sax.saxutils import escape

src, out = sys.argv[1], sys.argv[2]
pad = int(sys.argv[3]) if len(sys.argv) > 3 else 0
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def col(i):
    s = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        s = chr(65 + r) + s
    return s


strings, index = [], {}
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
    with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as w, open(src, newline="") as f:
        w.write(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>')
        for r, row in enumerate(csv.reader(f), start=1):
            cells = []
            for c, text in enumerate(row):
                if text == "":
                    continue
                ref = f"{col(c)}{r}"
                # Ids and plain amounts as numbers; the rest as Excel keeps text.
                if NUMBER.match(text) and len(text) < 16 and r > 1:
                    cells.append(f'<c r="{ref}"><v>{text}</v></c>')
                else:
                    n = index.setdefault(text, len(strings))
                    if n == len(strings):
                        strings.append(text)
                    cells.append(f'<c r="{ref}" t="s"><v>{n}</v></c>')
            w.write(f'<row r="{r}">{"".join(cells)}</row>'.encode())
        w.write(b"</sheetData></worksheet>")
    with z.open("xl/sharedStrings.xml", "w") as w:
        w.write(f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="{len(strings) + pad}" uniqueCount="{len(strings) + pad}">'.encode())
        for s in strings:
            w.write(f'<si><t xml:space="preserve">{escape(s)}</t></si>'.encode())
        for i in range(pad):
            w.write(f"<si><t>{i:x}</t></si>".encode())
        w.write(b"</sst>")
    z.writestr("[Content_Types].xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>')
    z.writestr("xl/workbook.xml", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><bookViews><workbookView/></bookViews><sheets><sheet name="Calls" sheetId="1" r:id="rId1"/></sheets><calcPr calcId="191029"/></workbook>')
    z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>')
