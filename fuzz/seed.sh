#!/usr/bin/env bash
# Builds the seed corpora in fuzz/corpus/<target>/ from the repository's
# testdata/ and, when present, ../shared/fixtures/{real,mvt} (read only: files
# are copied or extracted, never changed). Corpora are not committed; run this
# again to regenerate them. Needs python3 and sqlite3.
#
#   fuzz/seed.sh            # all targets
#   SHARED=/path/to/fixtures fuzz/seed.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
shared="${SHARED:-$repo/../shared/fixtures}"
corpus="$here/corpus"
mkdir -p "$corpus"

scratch="$(mktemp -d "${TMPDIR:-/tmp}/spydar-seed.XXXXXX")"
trap 'rm -rf "$scratch"' EXIT

# An encrypted backup for the keybag and its MBFile blobs (synthetic, fast
# iteration counts), when the fixture generator is built
# (`cargo build --features fixtures --bin spydar-fixtures`).
gen="$repo/target/debug/spydar-fixtures"
if [ -x "$gen" ]; then
    "$gen" ios-backup "$scratch/enc-backup" --password fuzz >/dev/null 2>&1 || true
fi

export REPO="$repo" SHARED_DIR="$shared" CORPUS="$corpus" SCRATCH="$scratch"
python3 - <<'PY'
import gzip, hashlib, io, json, os, plistlib, re, sqlite3, tarfile, zipfile
from pathlib import Path

repo = Path(os.environ["REPO"]); shared = Path(os.environ["SHARED_DIR"])
corpus = Path(os.environ["CORPUS"]); scratch = Path(os.environ["SCRATCH"])
MAX = 256 * 1024  # no seed larger than this (run.sh caps inputs anyway)
counts = {}

def put(target, data, cap=MAX):
    if data is None or len(data) == 0:
        return
    data = bytes(data[:cap])
    d = corpus / target
    d.mkdir(parents=True, exist_ok=True)
    (d / hashlib.sha1(data).hexdigest()).write_bytes(data)
    counts[target] = counts.get(target, 0) + 1

def files(root, pattern="*"):
    root = Path(root)
    return sorted(p for p in root.rglob(pattern) if p.is_file() and not p.is_symlink()) if root.is_dir() else []

def read(p, n=None):
    with open(p, "rb") as f:
        return f.read(n) if n else f.read()

real, mvt = shared / "real", shared / "mvt"

# Members of the sysdiagnose archives (synthetic testdata + real pieces).
sysdiag_members = []
for tgz in files(repo / "testdata/sysdiagnose", "*.tar.gz") + files(real / "sysdiag-pieces", "*.tar.gz"):
    with tarfile.open(tgz) as t:
        for m in t.getmembers():
            if m.isfile() and m.size <= 4 << 20:
                sysdiag_members.append((m.name, t.extractfile(m).read()))
for p in files(real / "sysdiag-pieces"):
    if not p.name.endswith(".tar.gz"):
        sysdiag_members.append((str(p.relative_to(real)), read(p)))

# Members of the zips (bugreports, androidqf).
zips = files(repo / "testdata/android", "*.zip") + files(mvt, "*.zip")
zip_members = []
for z in zips:
    try:
        with zipfile.ZipFile(z) as zf:
            for i in zf.infolist():
                if not i.is_dir() and i.file_size <= 8 << 20:
                    zip_members.append((i.filename, zf.read(i)))
    except zipfile.BadZipFile:
        pass

def is_plist(b):
    return b.startswith(b"bplist") or b.lstrip().startswith(b"<?xml") and b"<plist" in b[:400]

# plist ---------------------------------------------------------------
plist_sources = (files(repo / "testdata/ios_backup") + files(real) + files(mvt / "ios_backup")
                 + files(scratch / "enc-backup"))
for p in plist_sources:
    if p.stat().st_size <= 1 << 20:
        b = read(p)
        if is_plist(b):
            put("plist", b)
for name, b in sysdiag_members:
    if is_plist(b):
        put("plist", b)
put("plist", b'{ a = (1, "two", <0fbd77>); b = { c = d; }; }')  # OpenStep form

# nskeyed_mbfile / keybag --------------------------------------------
for db in [repo / "testdata/ios_backup/Manifest.db", mvt / "ios_backup/Manifest.db"]:
    if db.is_file():
        con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
        for (blob,) in con.execute("SELECT file FROM Files WHERE file IS NOT NULL ORDER BY fileID LIMIT 40"):
            put("nskeyed_mbfile", blob)
        con.close()
# The encrypted backup's Manifest.db is itself encrypted: its MBFiles (with
# EncryptionKey) are not reachable without the key; the keybag is.
mp = scratch / "enc-backup/Manifest.plist"
if mp.is_file():
    d = plistlib.loads(read(mp))
    if "BackupKeyBag" in d:
        put("keybag", d["BackupKeyBag"])
        # the ManifestKey is class-prefixed (u32 LE class + wrapped key)
        if "ManifestKey" in d:
            put("keybag", d["ManifestKey"])

# ab_header -----------------------------------------------------------
for p in (files(repo / "testdata/android", "*.ab") + files(repo / "testdata/android/androidqf", "*.ab")
          + files(real / "abe-adb-backup", "*.backup") + files(mvt, "*.ab")):
    put("ab_header", read(p, MAX))
put("ab_header", b"ANDROID BACKUP\n5\n0\nnone\n")

# tar_stream ----------------------------------------------------------
def small_tar(fmt, gz, long_name=False):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        root = "sysdiagnose_2024.01.02_03-04-05+0200_iPhone-OS_iPhone_21C62/"
        picked = [(n, b) for n, b in sysdiag_members if len(b) < 8192][:6]
        for n, b in picked:
            name = root + n.split("/", 1)[-1]
            if long_name:
                name = root + "x" * 120 + "/" + n.rsplit("/", 1)[-1]
            ti = tarfile.TarInfo(name); ti.size = len(b); ti.mtime = 1704164645
            t.addfile(ti, io.BytesIO(b))
    raw = buf.getvalue()
    return gzip.compress(raw, mtime=0) if gz else raw
for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
    for gz in (False, True):
        put("tar_stream", small_tar(fmt, gz, long_name=fmt != tarfile.USTAR_FORMAT))
for p in files(repo / "testdata/sysdiagnose", "*.tar.gz") + files(real, "*.tar.gz") + files(real, "*.tar"):
    put("tar_stream", read(p, MAX))

# zip_detect ----------------------------------------------------------
for z in zips:
    put("zip_detect", read(z, MAX))
def small_zip(names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n in names:
            zf.writestr(zipfile.ZipInfo(n, (2024, 1, 2, 3, 4, 5)), b"text\n" * 8)
    return buf.getvalue()
put("zip_detect", small_zip(["main_entry.txt", "bugreport-x-2024-01-01-00-00-00.txt", "FS/data/tombstones/tombstone_00"]))
put("zip_detect", small_zip(["androidqf/acquisition.json", "androidqf/getprop.txt", "androidqf/ps.txt"]))
put("zip_detect", small_zip(["../evil", "/abs", "ok/name.txt"]))

# tombstone (first byte: even = protobuf, odd = text) -----------------
tomb = [(p.name, read(p)) for p in files(mvt / "android_data") if "tombstone" in p.name]
tomb += [(n, b) for n, b in zip_members if "tombstone" in n]
for n, b in tomb:
    put("tombstone", (b"\x00" if n.endswith(".pb") else b"\x01") + b)

# uuidtext ------------------------------------------------------------
uuid_re = re.compile(r"(^|/)[0-9A-Fa-f]{2}/[0-9A-Fa-f]{30}$")
for p in files(real / "dtformats-unified-log/uuidtext") + files(real / "sysdiag-pieces"):
    if uuid_re.search(str(p)):
        put("uuidtext", read(p))
for n, b in sysdiag_members:
    if uuid_re.search(n):
        put("uuidtext", b)

# dumpsys: whole small files, and big dumpstates cut at service bounds --
def dumpsys_pieces(b):
    text = b.decode("utf-8", "replace")
    dash = "-" * 79
    parts = re.split(r"(?m)^(?=DUMP OF SERVICE )", text)
    for part in parts[1:]:
        yield (dash + "\n" + part).encode()[:64 * 1024]
    # SYSTEM PROPERTIES and log blocks
    for m in re.finditer(r"(?m)^------ (SYSTEM PROPERTIES|SYSTEM LOG|EVENT LOG|KERNEL LOG).*$", text):
        yield ("\n" + text[m.start():m.start() + 16 * 1024]).encode()
dumps = [read(p) for p in files(mvt / "android_data", "dumpsys*.txt")]
dumps += [read(p) for p in files(mvt / "androidqf", "dumpsys.txt")]
dumps += [read(p) for p in files(repo / "testdata/android/androidqf", "dumpsys.txt")]
dumps += [read(p) for p in files(mvt / "android_data/bugreport", "dumpstate.txt")]
dumps += [read(p) for p in files(real / "chk-bugreport-legacy", "*.txt")]
dumps += [b for n, b in zip_members if n.endswith(".txt") and (b"DUMP OF SERVICE" in b or b"------ " in b)]
for b in dumps:
    if len(b) <= 64 * 1024:
        put("dumpsys", b)
    seen = 0
    for piece in dumpsys_pieces(b):
        put("dumpsys", piece); seen += 1
        if seen > 150:
            break

# shutdown_log ---------------------------------------------------------
for n, b in sysdiag_members:
    if re.search(r"shutdown(\.\d+)?\.log$", n):
        put("shutdown_log", b)
put("shutdown_log", b"After 1.50s, these clients are still here:\n\tremaining client pid: 123 (/usr/libexec/x)\nSIGTERM: [1700000000]\n")

# ps -----------------------------------------------------------------
ps_re = re.compile(r"(^|/)(ps(_thread)?\.txt|taskinfo\.txt|spindump[^/]*\.txt|JetsamEvent[^/]*\.ips|jetsam_priority\.csv|logdata\.statistics[^/]*|UUIDToBinaryLocations|processes\.json)$")
for n, b in sysdiag_members + zip_members:
    if ps_re.search(n):
        put("ps", b)
for p in files(mvt, "ps.txt") + files(repo / "testdata/android", "ps.txt") + files(repo / "testdata/android", "processes.json"):
    put("ps", read(p))

# ips ------------------------------------------------------------------
for n, b in sysdiag_members:
    if n.endswith(".ips") or n.endswith("crashes_and_spins.log"):
        put("ips", b)

# stix / stix_pattern --------------------------------------------------
bundles = files(repo / "indicators", "*.stix2") + files(mvt / "stix2")
patterns = set()
for p in bundles:
    b = read(p)
    if len(b) <= 64 * 1024:
        put("stix", b)
    try:
        j = json.loads(b)
    except Exception:
        continue
    objs = j.get("objects", []) if isinstance(j, dict) else []
    inds = [o for o in objs if isinstance(o, dict) and o.get("type") == "indicator"]
    # a small bundle per source: a few indicators, their malware, relationships
    keep_ids = {o.get("id") for o in inds[:5]}
    rels = [o for o in objs if isinstance(o, dict) and o.get("type") == "relationship" and o.get("source_ref") in keep_ids]
    mal_ids = {r.get("target_ref") for r in rels}
    mal = [o for o in objs if isinstance(o, dict) and o.get("id") in mal_ids]
    put("stix", json.dumps({"type": "bundle", "id": j.get("id", "bundle--x"), "objects": inds[:5] + mal + rels}).encode())
    for o in inds:
        if isinstance(o.get("pattern"), str):
            patterns.add(o["pattern"])
for pat in sorted(patterns, key=lambda s: (len(s), s))[:400]:
    put("stix_pattern", pat.encode())
# the longest (OR) patterns too
for pat in sorted(patterns, key=len)[-20:]:
    put("stix_pattern", pat.encode(), 64 * 1024)

for t in sorted(counts):
    print(f"{t:16} {len(list((corpus / t).iterdir())):5} seeds")
PY
