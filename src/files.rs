//! Reading files we are given: regular files only, never more than their purpose needs.
//!
//! Takes a path and a [`Cap`] (how large such a file can sensibly be, and what it
//! is) and hands on its bytes, or an `io::Error` whose message says what was
//! wrong in plain words ("is a FIFO (named pipe), not a regular file", "is larger
//! than 64 KiB: too large for a secret"), so each caller keeps its own error type
//! and names the flag or file as before.
//!
//! Why: `--client-secret-file /dev/zero` once read gigabytes until the process
//! was killed, and a FIFO or a device blocks a read forever. Every file from the
//! outside (configuration, secrets, keys, CA bundles, the roster, snapshot
//! members) is therefore checked to be a regular file *before* it is opened, and
//! opened non-blocking so that a file swapped for a FIFO in between cannot hang
//! us, then checked again on the open handle. Configuration and secret paths may
//! be symbolic links (secrets are often mounted as links); a snapshot member may
//! not: [`open_member`] never follows one, so a snapshot cannot smuggle in
//! `/etc/passwd` under a fixed-up hash.

use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::path::Path;

pub const KIB: u64 = 1024;
pub const MIB: u64 = 1024 * KIB;

/// How large a file of one purpose may be.
#[derive(Debug, Clone, Copy)]
pub struct Cap {
    pub bytes: u64,
    /// What the file is, for the message: "a secret", "a configuration file".
    pub what: &'static str,
}

/// The TOML configuration file: a few dozen lines.
pub const CONFIG: Cap = Cap { bytes: MIB, what: "a configuration file" };
/// A client secret, refresh or access token: a line of text.
pub const SECRET: Cap = Cap { bytes: 64 * KIB, what: "a secret" };
/// An RSA private key in PEM (4096-bit: about 3.3 KiB).
pub const PRIVATE_KEY: Cap = Cap { bytes: 64 * KIB, what: "a private key" };
/// A bundle of CA certificates in PEM (the whole Mozilla bundle is about 220 KiB).
pub const CA_BUNDLE: Cap = Cap { bytes: 4 * MIB, what: "a CA certificate bundle" };
/// The expected-users roster: a million rows of three short columns fit well below it.
pub const ROSTER: Cap = Cap { bytes: 256 * MIB, what: "a roster" };
/// The exclusions file: a few hundred accounts, but read like a roster.
pub const EXCLUSIONS: Cap = Cap { bytes: 256 * MIB, what: "an exclusions file" };
/// A report the tool wrote, read back (`--previous`, `review`): a million users' access matrix is
/// about 400 MiB of CSV.
pub const REPORT: Cap = Cap { bytes: 2048 * MIB, what: "a report file" };
/// A review workbook read back: a 100k-user review is about 15 MB.
pub const WORKBOOK: Cap = Cap { bytes: 512 * MIB, what: "a workbook" };
/// A snapshot's `manifest.json` or a report folder's file list: a few KiB.
pub const MARKER: Cap = Cap { bytes: 16 * MIB, what: "a manifest" };

/// A report folder's file the mail stage attaches (the workbook, a CSV): what a folder of ours
/// may hold, with room for a 100k-user workbook.
pub const REPORT_FILE: Cap = Cap { bytes: 1024 * MIB, what: "a report file" };

/// SHA-256 (hex) and size of a member of one of our folders (never followed if a link), read in
/// pieces however large it is.
pub fn sha256_file(path: &Path) -> io::Result<(String, u64)> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let bytes = io::copy(&mut open_member(path)?, &mut hasher)?;
    Ok((hex::encode(hasher.finalize()), bytes))
}

/// Reads a whole regular file (a symbolic link to one is fine) of at most `cap.bytes`.
pub fn read(path: &Path, cap: Cap) -> io::Result<Vec<u8>> {
    regular(&std::fs::metadata(path)?)?;
    read_open(open(path, false)?, cap)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, cap: Cap) -> io::Result<String> {
    String::from_utf8(read(path, cap)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "is not UTF-8 text".to_string()))
}

/// Opens a member of a snapshot or report folder: a regular file, never through a symbolic link.
pub fn open_member(path: &Path) -> io::Result<File> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_symlink() {
        return Err(refused("is a symbolic link, not a regular file (links are not followed here)"));
    }
    regular(&meta)?;
    open(path, true)
}

/// Reads a snapshot or report-folder member (see [`open_member`]) of at most `cap.bytes`.
pub fn read_member(path: &Path, cap: Cap) -> io::Result<Vec<u8>> {
    read_open(open_member(path)?, cap)
}

/// What kind of file system entry `meta` describes, in words; `None` for a regular file.
pub fn not_regular(meta: &Metadata) -> Option<&'static str> {
    let ft = meta.file_type();
    if ft.is_file() {
        return None;
    }
    Some(if ft.is_dir() {
        "a folder"
    } else if ft.is_symlink() {
        "a symbolic link"
    } else {
        special_kind(&ft)
    })
}

#[cfg(unix)]
fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "a FIFO (named pipe)"
    } else if ft.is_char_device() {
        "a character device"
    } else if ft.is_block_device() {
        "a block device"
    } else if ft.is_socket() {
        "a socket"
    } else {
        "not a file"
    }
}

#[cfg(not(unix))]
fn special_kind(_: &std::fs::FileType) -> &'static str {
    "not a file"
}

fn regular(meta: &Metadata) -> io::Result<()> {
    match not_regular(meta) {
        None => Ok(()),
        Some(kind) => Err(refused(&format!("is {kind}, not a regular file"))),
    }
}

fn refused(detail: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, detail.to_string())
}

/// Opens for reading without blocking on a FIFO and, for members, without following a link;
/// then checks the open handle itself, in case the path was swapped after the first check.
fn open(path: &Path, member: bool) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let nofollow = if member { libc::O_NOFOLLOW } else { 0 };
        options.custom_flags(libc::O_NONBLOCK | nofollow);
    }
    #[cfg(not(unix))]
    let _ = member;
    let file = options.open(path)?;
    regular(&file.metadata()?)?;
    Ok(file)
}

fn read_open(file: File, cap: Cap) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.take(cap.bytes + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap.bytes {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("is larger than {}: too large for {}", size(cap.bytes), cap.what),
        ));
    }
    Ok(bytes)
}

/// `65536` → `64 KiB`.
fn size(bytes: u64) -> String {
    if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes.is_multiple_of(KIB) {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_regular_files_within_the_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret");
        std::fs::write(&path, "s3cret\n").unwrap();
        assert_eq!(read_to_string(&path, SECRET).unwrap(), "s3cret\n");
        assert_eq!(read_member(&path, SECRET).unwrap(), b"s3cret\n");
        let tiny = Cap { bytes: 6, what: "a test file" };
        let e = read(&path, tiny).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "is larger than 6 bytes: too large for a test file");
        assert_eq!(read(&path, Cap { bytes: 7, what: "x" }).unwrap().len(), 7, "exactly the cap is fine");
    }

    #[test]
    fn refuses_devices_folders_and_missing_files() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path(), SECRET).unwrap_err();
        assert_eq!(e.to_string(), "is a folder, not a regular file");
        assert_eq!(read(&dir.path().join("nope"), SECRET).unwrap_err().kind(), io::ErrorKind::NotFound);
        #[cfg(unix)]
        {
            let e = read(Path::new("/dev/zero"), SECRET).unwrap_err();
            assert_eq!(e.to_string(), "is a character device, not a regular file");
        }
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_for_settings_but_never_inside_a_snapshot() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real");
        std::fs::write(&target, "x").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert_eq!(read(&link, SECRET).unwrap(), b"x");
        let e = open_member(&link).unwrap_err();
        assert_eq!(e.to_string(), "is a symbolic link, not a regular file (links are not followed here)");
    }

    #[test]
    fn sizes_read_well() {
        assert_eq!(size(64 * KIB), "64 KiB");
        assert_eq!(size(256 * MIB), "256 MiB");
        assert_eq!(size(1000), "1000 bytes");
    }
}
