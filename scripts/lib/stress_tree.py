#!/usr/bin/env python3
"""Directory trees for scripts/kill-loop's mirror and publisher modes.

  stress_tree.py make DIR DB [--files N] [--large N] [--large-mib M]
      Creates a tree of N small files (0-64 KiB, in nested directories), N large files of about
      M MiB, a few symbolic links and empty directories, and records every file's content in DB.
  stress_tree.py change DIR DB
      Makes the next version: rewrites, adds and deletes small files, rewrites part of a large
      file, appends to another, retargets a link; records the new contents in DB.
  stress_tree.py check DIR DB
      Every file and link in DIR (a follower's copy) must be byte-identical to some version of the
      publisher's file at that path, as recorded in DB: no partially written file, nothing from
      nowhere. The follower's own .peerdist-* entries at the top are skipped; conflict copies fail.
  stress_tree.py compare A B
      A and B are equal: same paths and types, same bytes, link targets, modes and file
      modification times (nanoseconds).

DB is JSON: {"versions": V, "paths": {relative path: [digests of every version]}}, where a
digest is "f:<sha256>" for a file and "l:<target>" for a link.
"""
import hashlib
import json
import os
import random
import stat
import sys

FOLLOWER_ENTRIES = {".peerdist-staging", ".peerdist-journal", ".peerdist-journal.tmp"}


def digest_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return "f:" + h.hexdigest()


def digest(path):
    mode = os.lstat(path).st_mode
    if stat.S_ISLNK(mode):
        return "l:" + os.readlink(path)
    return digest_file(path)


def load(db):
    with open(db) as f:
        return json.load(f)


def save(db, data):
    with open(db + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(db + ".tmp", db)


def record(data, root, relative):
    seen = data["paths"].setdefault(relative, [])
    d = digest(os.path.join(root, relative))
    if d not in seen:
        seen.append(d)


def write_random(path, size, rng):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(rng.randbytes(size))


def small_name(rng, index):
    return f"d{rng.randrange(40):02d}/e{rng.randrange(8)}/file-{index:05d}.bin"


def make(root, db, files, large, large_mib):
    rng = random.Random(1)
    data = {"versions": 1, "paths": {}, "next": files}
    for i in range(files):
        relative = small_name(rng, i)
        write_random(os.path.join(root, relative), rng.randrange(0, 64 << 10), rng)
    for i in range(large):
        size = (large_mib << 20) + rng.randrange(1 << 20)
        path = os.path.join(root, f"large/large-{i}.bin")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            written = 0
            while written < size:
                piece = min(1 << 20, size - written)
                f.write(os.urandom(piece))
                written += piece
    os.makedirs(os.path.join(root, "empty/nested"), exist_ok=True)
    os.symlink("../large/large-0.bin", os.path.join(root, "d00/link-to-large"))
    os.symlink("file-missing", os.path.join(root, "d01/dangling"))
    for relative, mode in zip(sorted(walk(root))[:30], [0o600, 0o640, 0o755] * 10):
        if not os.path.islink(os.path.join(root, relative)):
            os.chmod(os.path.join(root, relative), mode)
    for relative in walk(root):
        record(data, root, relative)
    save(db, data)
    print(f"{len(data['paths'])} entries")


def walk(root, skip_follower_entries=False):
    """Relative paths of files and links (not directories) under root."""
    out = []
    for directory, dirs, names in os.walk(root):
        relative_dir = os.path.relpath(directory, root)
        if relative_dir == "." and skip_follower_entries:
            dirs[:] = [d for d in dirs if d not in FOLLOWER_ENTRIES]
            names = [n for n in names if n not in FOLLOWER_ENTRIES]
        for d in list(dirs):
            if os.path.islink(os.path.join(directory, d)):
                names.append(d)
                dirs.remove(d)
        for name in names:
            out.append(os.path.normpath(os.path.join(relative_dir, name)))
    return sorted(out)


def change(root, db):
    data = load(db)
    rng = random.Random(data["versions"] * 7919)
    small = [p for p in data["paths"] if p.startswith("d") and os.path.isfile(os.path.join(root, p))
             and not os.path.islink(os.path.join(root, p))]
    changed = set()
    for relative in rng.sample(small, min(40, len(small))):
        write_random(os.path.join(root, relative), rng.randrange(0, 64 << 10), rng)
        changed.add(relative)
    for relative in rng.sample(small, min(10, len(small))):
        if relative not in changed:
            os.unlink(os.path.join(root, relative))
    for _ in range(20):
        relative = small_name(rng, data["next"])
        data["next"] += 1
        write_random(os.path.join(root, relative), rng.randrange(0, 64 << 10), rng)
        changed.add(relative)
    large = sorted(p for p in data["paths"] if p.startswith("large/"))
    if large:
        # Rewrite 1 MiB in the middle of one large file (in place), append 2 MiB to another.
        target = os.path.join(root, large[data["versions"] % len(large)])
        with open(target, "r+b") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(rng.randrange(max(1, size - (1 << 20))))
            f.write(os.urandom(1 << 20))
        changed.add(os.path.relpath(target, root))
        target = os.path.join(root, large[(data["versions"] + 1) % len(large)])
        with open(target, "ab") as f:
            f.write(os.urandom(2 << 20))
        changed.add(os.path.relpath(target, root))
    link = os.path.join(root, "d00/link-to-large")
    if os.path.lexists(link):
        os.unlink(link)
    os.symlink(f"../large/large-{data['versions'] % max(1, len(large))}.bin", link)
    changed.add("d00/link-to-large")
    data["versions"] += 1
    for relative in changed:
        record(data, root, relative)
    save(db, data)
    print(f"version {data['versions']}: {len(changed)} entries written")


def check(root, db):
    data = load(db)
    cache_path = db + ".check-cache"
    try:
        with open(cache_path) as f:
            cache = json.load(f)
    except (OSError, ValueError):
        cache = {}
    problems = []
    fresh = {}
    for relative in walk(root, skip_follower_entries=True):
        if ".peerdist-conflict-" in relative:
            problems.append(f"{relative}: a conflict copy, though nothing was changed on the follower")
            continue
        path = os.path.join(root, relative)
        st = os.lstat(path)
        if not (stat.S_ISREG(st.st_mode) or stat.S_ISLNK(st.st_mode)):
            problems.append(f"{relative}: neither a file nor a link")
            continue
        # A file unchanged since the last check (same inode, size and times) keeps its digest.
        key = f"{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}"
        d = cache.get(relative, {}).get(key) or digest(path)
        fresh[relative] = {key: d}
        if d not in data["paths"].get(relative, []):
            kind = "link" if d.startswith("l:") else f"file of {st.st_size} bytes"
            problems.append(f"{relative}: {kind} matching no version the publisher had")
    with open(cache_path, "w") as f:
        json.dump(fresh, f)
    for p in problems[:20]:
        print(p)
    if problems:
        print(f"{len(problems)} bad entries in {root}")
        sys.exit(1)
    print(f"{len(fresh)} entries, each a complete version")


def describe(root, relative):
    path = os.path.join(root, relative)
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        return ("link", os.readlink(path))
    if stat.S_ISDIR(st.st_mode):
        return ("dir", stat.S_IMODE(st.st_mode))
    return ("file", stat.S_IMODE(st.st_mode), st.st_mtime_ns, st.st_size, digest_file(path))


def all_entries(root, skip):
    out = []
    for directory, dirs, names in os.walk(root):
        relative_dir = os.path.relpath(directory, root)
        if relative_dir == "." and skip:
            dirs[:] = [d for d in dirs if d not in FOLLOWER_ENTRIES]
            names = [n for n in names if n not in FOLLOWER_ENTRIES]
        for name in dirs + names:
            out.append(os.path.normpath(os.path.join(relative_dir, name)))
    return sorted(out)


def compare(a, b):
    left, right = all_entries(a, False), all_entries(b, True)
    problems = [f"only in {a}: {p}" for p in sorted(set(left) - set(right))]
    problems += [f"only in {b}: {p}" for p in sorted(set(right) - set(left))]
    for relative in sorted(set(left) & set(right)):
        x, y = describe(a, relative), describe(b, relative)
        if x != y:
            problems.append(f"{relative}: {x[:4]} != {y[:4]}")
    for p in problems[:20]:
        print(p)
    if problems:
        print(f"{len(problems)} differences")
        sys.exit(1)
    print(f"equal: {len(left)} entries")


def main():
    command, args = sys.argv[1], sys.argv[2:]
    if command == "make":
        root, db = args[0], args[1]
        options = dict(zip(args[2::2], args[3::2]))
        make(root, db, int(options.get("--files", 3000)), int(options.get("--large", 4)), int(options.get("--large-mib", 24)))
    elif command == "change":
        change(args[0], args[1])
    elif command == "check":
        check(args[0], args[1])
    elif command == "compare":
        compare(args[0], args[1])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
