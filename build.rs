//! Builds the browser UI into the binary: the pinned player libraries from
//! `web/node_modules` (installed with `npm ci` when missing) and the pages in
//! `web/src` are copied to `$OUT_DIR/web/`, gzipped once, and listed in
//! `$OUT_DIR/web_assets.rs`, which `src/web.rs` includes (`include_bytes!`).
//! Nothing is fetched at run time.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// (file under `web/node_modules`, name served under `/assets/`).
const LIBRARIES: &[(&str, &str)] = &[
    ("hls.js/dist/hls.min.js", "hls.min.js"),
    ("dashjs/dist/modern/umd/dash.all.min.js", "dash.all.min.js"),
    (
        "dashjs/dist/modern/umd/dash.all.min.js.LICENSE.txt",
        "dash.all.min.js.LICENSE.txt",
    ),
    (
        "shaka-player/dist/shaka-player.compiled.js",
        "shaka-player.compiled.js",
    ),
];

/// Replaced in the text files of `web/src` by a hash of every asset, so that
/// pages (served `no-cache`) always point at the assets they were built with.
const VERSION_PLACEHOLDER: &str = "__WEIR_ASSET_VERSION__";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("\nerror: {e}\n");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let root = PathBuf::from(env("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(env("OUT_DIR")?);
    let web = root.join("web");
    let src = web.join("src");
    let modules = web.join("node_modules");

    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=web/src");
    println!("cargo:rerun-if-changed=web/package.json");
    println!("cargo:rerun-if-changed=web/package-lock.json");

    if LIBRARIES.iter().any(|(p, _)| !modules.join(p).is_file()) {
        npm_ci(&web)?;
    }
    for (p, _) in LIBRARIES {
        let path = modules.join(p);
        if !path.is_file() {
            return Err(format!(
                "{} is still missing after `npm ci`; check web/package.json",
                path.display()
            ));
        }
        println!("cargo:rerun-if-changed={}", path.display());
    }

    // (served name, bytes), sorted by name.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    for (p, name) in LIBRARIES {
        files.push((name.to_string(), read(&modules.join(p))?));
    }
    let mut entries = std::fs::read_dir(&src)
        .map_err(|e| format!("cannot list {}: {e}", src.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("cannot list {}: {e}", src.display()))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        if files.iter().any(|(n, _)| n == name) {
            return Err(format!("web/src/{name} clashes with a player library"));
        }
        files.push((name.to_string(), read(&path)?));
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));

    let mut all = Fnv::default();
    for (name, bytes) in &files {
        all.write(name.as_bytes());
        all.write(bytes);
    }
    let version = format!("{:016x}", all.finish());

    let dir = out.join("web");
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut table = String::from("&[\n");
    for (name, bytes) in &mut files {
        if is_text(name) {
            if let Ok(text) = std::str::from_utf8(bytes) {
                *bytes = text.replace(VERSION_PLACEHOLDER, &version).into_bytes();
            }
        }
        let mut h = Fnv::default();
        h.write(bytes);
        let etag = format!("\"{:016x}\"", h.finish());
        let plain = dir.join(name.as_str());
        write(&plain, bytes)?;
        let gzip = match gzip(bytes)? {
            // Only worth it when it saves something.
            Some(gz) if gz.len() + 64 < bytes.len() => {
                let path = dir.join(format!("{name}.gz"));
                write(&path, &gz)?;
                format!("Some(include_bytes!({:?}))", path_str(&path)?)
            }
            _ => "None".to_string(),
        };
        let _ = writeln!(
            table,
            "    Asset {{ name: {name:?}, bytes: include_bytes!({:?}), gzip: {gzip}, etag: {etag:?} }},",
            path_str(&plain)?
        );
    }
    table.push_str("]\n");
    write(&out.join("web_assets.rs"), table.as_bytes())?;
    Ok(())
}

fn npm_ci(web: &Path) -> Result<(), String> {
    let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
    let help = "The browser UI embeds the player libraries pinned in web/package-lock.json.\n\
                Building weir needs Node.js and npm (https://nodejs.org/) to install them once:\n\n    \
                npm ci --prefix web\n";
    println!(
        "cargo:warning=web/node_modules is missing the player libraries; running `npm ci` in web/"
    );
    let status = Command::new(npm)
        .arg("ci")
        .arg("--no-audit")
        .arg("--no-fund")
        .current_dir(web)
        .status();
    match status {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("`npm ci` in web/ failed ({s}).\n{help}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(format!("`npm` was not found on PATH.\n{help}"))
        }
        Err(e) => Err(format!("cannot run `npm ci` in web/: {e}\n{help}")),
    }
}

fn is_text(name: &str) -> bool {
    [".html", ".js", ".css", ".svg", ".txt", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

fn gzip(bytes: &[u8]) -> Result<Option<Vec<u8>>, String> {
    if bytes.len() < 1024 {
        return Ok(None);
    }
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(bytes)
        .and_then(|()| enc.finish())
        .map(Some)
        .map_err(|e| format!("gzip: {e}"))
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|e| format!("{name}: {e}"))
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), String> {
    // Leave an unchanged file alone so its mtime does not trigger rebuilds.
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    std::fs::write(path, bytes).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", path.display()))
}

/// FNV-1a, 64 bit: stable across Rust versions (unlike `DefaultHasher`).
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}
