//! The machine reads no clock and no RNG and does no I/O (DESIGN.md: ban `Instant::now()` in the
//! sans-IO code with a test). Comments may mention them.

const SOURCES: [(&str, &str); 4] = [
    ("lib.rs", include_str!("../src/lib.rs")),
    ("device.rs", include_str!("../src/device.rs")),
    ("message.rs", include_str!("../src/message.rs")),
    ("sessid.rs", include_str!("../src/sessid.rs")),
];

const BANNED: [&str; 8] =
    ["Instant::now", "SystemTime", "thread_rng", "getrandom", "std::net", "std::fs", "std::thread", "tokio"];

#[test]
fn no_clock_rng_or_io_in_the_source() {
    for (file, source) in SOURCES {
        for (n, line) in source.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for banned in BANNED {
                assert!(!line.contains(banned), "{file}:{}: `{banned}` in the sans-IO code: {line}", n + 1);
            }
        }
    }
}
