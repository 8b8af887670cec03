"""A corpus of files nobody at fugong wrote: the same district report saved by other programs' writers
(openpyxl, XlsxWriter, xlwt, odfpy through pandas), the same files with the inner bookkeeping other tools
get wrong (a shared-string count larger or smaller than the table, compound-file header fields the
strict parser refuses), and the things clerks attach instead of a workbook (PDF, photos, scans, Word,
archives, e-mails). Each file's name says what fugong should make of it:

    ok-*       a readable report: every row accepted
    refuse-*   not a spreadsheet (or encrypted): file-unreadable

Usage: make_corpus.py OUT_DIR [COPIES]
"""
import io
import os
import random
import struct
import sys
import zipfile

import openpyxl
import pandas as pd
import xlsxwriter
import xlwt

out = sys.argv[1]
copies = int(sys.argv[2]) if len(sys.argv) > 2 else 20
os.makedirs(out, exist_ok=True)

HEADERS = ["序号", "统一社会信用代码", "企业名称", "所属行业", "是否开工", "职工总数(人)", "上岗人数(人)",
           "产能恢复率(%)", "存在问题及诉求"]
ALNUM = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]


def uscc(k):
    body = f"91370102MA{k:07d}"
    total = sum(ALNUM.index(c) * w for c, w in zip(body, WEIGHTS))
    return body + ALNUM[(31 - total % 31) % 31]


def rows(seed, n):
    rng = random.Random(seed)
    out_rows = []
    for i in range(1, n + 1):
        total = rng.randint(10, 900)
        out_rows.append([i, uscc(seed * 1000 + i), f"企业{seed}-{i}有限公司", "纺织业",
                         rng.choice(["是", "否"]), total, rng.randint(0, total), rng.randint(30, 100),
                         rng.choice(["无", "缺少口罩", "", "员工返岗困难"])])
    return out_rows


def frame(seed, n):
    return pd.DataFrame(rows(seed, n), columns=HEADERS)


def title_rows():
    return [["历下区规模以上工业企业复工复产情况日报表"], ["填报单位：历下区工业和信息化局", "", "", "", "", "", "", "填报日期：2020年2月24日"]]


def with_openpyxl(seed, n):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "复工日报"
    for r in title_rows() + [HEADERS] + rows(seed, n):
        ws.append([None if v == "" else v for v in r])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_xlsxwriter(seed, n, constant_memory=False):
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": not constant_memory, "constant_memory": constant_memory,
                                   "strings_to_numbers": False})
    ws = wb.add_worksheet("复工日报")
    for r, row in enumerate(title_rows() + [HEADERS] + rows(seed, n)):
        for c, v in enumerate(row):
            if v != "":
                ws.write(r, c, v)
    wb.close()
    return buf.getvalue()


def with_xlwt(seed, n):
    wb = xlwt.Workbook(encoding="utf-8")
    ws = wb.add_sheet("复工日报")
    for r, row in enumerate(title_rows() + [HEADERS] + rows(seed, n)):
        for c, v in enumerate(row):
            if v != "":
                ws.write(r, c, v)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def with_pandas(seed, n, engine):
    buf = io.BytesIO()
    frame(seed, n).to_excel(buf, sheet_name="复工日报", index=False, engine=engine)
    return buf.getvalue()


def rewrite_part(xlsx, part, edit):
    src = zipfile.ZipFile(io.BytesIO(xlsx))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == part:
                data = edit(data)
            dst.writestr(item.filename, data)
    return buf.getvalue()


def sst_count(xlsx, count):
    import re
    return rewrite_part(xlsx, "xl/sharedStrings.xml",
                        lambda d: re.sub(rb'uniqueCount="\d+"', f'uniqueCount="{count}"'.encode(), d, count=1))


def cfb_field(xls, offset, value):
    data = bytearray(xls)
    data[offset:offset + len(value)] = value
    return bytes(data)


def pdf(seed):
    objs = "".join(f"{i} 0 obj\n<< /Type /Page /Contents {i + 40} 0 R >>\nendobj\n" for i in range(1, 30 + seed % 7))
    return f"%PDF-1.{4 + seed % 3}\n%\xe2\xe3\xcf\xd3\n{objs}trailer\n<< /Root 1 0 R >>\n%%EOF\n".encode("latin-1")


def png(seed):
    raw = b"".join(b"\x00" + bytes([(x * seed) % 256 for x in range(30)]) for _ in range(10))
    import zlib
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 10, 10, 8, 2, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def jpeg(seed):
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + bytes((seed * i) % 256 for i in range(2000)) + b"\xff\xd9"


def docx(seed):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", f"<w:document><w:body>报告{seed}</w:body></w:document>")
    return buf.getvalue()


def zip_of(xlsx):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("370102.xlsx", xlsx)
    return buf.getvalue()


def eml(seed):
    return (f"Return-Path: <a{seed}@example.cn>\r\nReceived: from mx.example.cn\r\nFrom: a{seed}@example.cn\r\n"
            f"To: b@example.cn\r\nSubject: report {seed}\r\nDate: Mon, 24 Feb 2020 09:00:00 +0800\r\n"
            "MIME-Version: 1.0\r\n\r\n请查收\r\n").encode()


made = 0
def save(name, data):
    global made
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
    made += 1


for k in range(copies):
    n = 5 + (k * 7) % 40
    seed = k + 1
    save(f"ok-openpyxl-{k}.xlsx", with_openpyxl(seed, n))
    save(f"ok-xlsxwriter-{k}.xlsx", with_xlsxwriter(seed, n))
    save(f"ok-xlsxwriter-constant-memory-{k}.xlsx", with_xlsxwriter(seed, n, constant_memory=True))
    save(f"ok-xlwt-{k}.xls", with_xlwt(seed, n))
    save(f"ok-pandas-openpyxl-{k}.xlsx", with_pandas(seed, n, "openpyxl"))
    save(f"ok-pandas-odf-{k}.ods", with_pandas(seed, n, "odf"))
    base = with_xlsxwriter(seed, n)
    save(f"ok-sst-count-larger-{k}.xlsx", sst_count(base, 4_000_000_000 + k))
    save(f"ok-sst-count-smaller-{k}.xlsx", sst_count(base, 1 + k % 3))
    xls = with_xlwt(seed, n)
    save(f"ok-cfb-byte-order-{k}.xls", cfb_field(xls, 28, b"\xff\xff"))
    save(f"ok-cfb-mini-cutoff-{k}.xls", cfb_field(xls, 56, struct.pack("<I", 0x2000)))
    save(f"refuse-pdf-{k}.xlsx", pdf(seed))
    save(f"refuse-png-{k}.xls", png(seed))
    save(f"refuse-jpeg-{k}.xlsx", jpeg(seed))
    save(f"refuse-docx-{k}.xlsx", docx(seed))
    save(f"refuse-zip-{k}.xlsx", zip_of(base))
    save(f"refuse-eml-{k}.xls", eml(seed))
print(f"{made} files in {out}")
