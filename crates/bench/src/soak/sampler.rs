//! The server's resident memory, open files and CPU time, read from
//! `/proc/<pid>` (Linux), as the soak samples them.

use std::time::Instant;

use anyhow::Context;

/// Clock ticks per second of `/proc/<pid>/stat`'s CPU times: `USER_HZ`,
/// 100 on every Linux architecture the soak runs on.
const TICKS_PER_S: f64 = 100.0;

/// One reading of the server.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct Sample {
    /// Seconds since the soak began.
    pub at_s: f64,
    /// Resident memory (`VmRSS`), KiB.
    pub rss_kib: u64,
    /// Entries of `/proc/<pid>/fd`.
    pub open_files: u64,
    /// CPU used since the sample before, in percent of one core.
    pub cpu_pct: f64,
}

/// Reads one process.
pub struct Sampler {
    pid: u32,
    began: Instant,
    last: Option<(Instant, f64)>,
}

impl Sampler {
    pub fn new(pid: u32, began: Instant) -> Self {
        Self { pid, began, last: None }
    }

    /// Reads the process now.
    ///
    /// # Errors
    /// When the process is gone or its `/proc` entries cannot be read.
    pub fn sample(&mut self) -> anyhow::Result<Sample> {
        let now = Instant::now();
        let cpu_s = self.cpu_s()?;
        let cpu_pct = match self.last {
            Some((then, before)) => 100.0 * (cpu_s - before) / now.duration_since(then).as_secs_f64().max(1e-9),
            None => 0.0,
        };
        self.last = Some((now, cpu_s));
        Ok(Sample {
            at_s: now.duration_since(self.began).as_secs_f64(),
            rss_kib: self.rss_kib()?,
            open_files: self.open_files()?,
            cpu_pct,
        })
    }

    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        let status = self.read("status")?;
        let line = status.lines().find(|line| line.starts_with("VmRSS:")).context("no VmRSS")?;
        line.split_whitespace().nth(1).context("no VmRSS value")?.parse().context("VmRSS")
    }

    pub fn open_files(&self) -> anyhow::Result<u64> {
        let dir = format!("/proc/{}/fd", self.pid);
        Ok(std::fs::read_dir(&dir).with_context(|| dir.clone())?.count() as u64)
    }

    /// User plus system CPU seconds (`stat` fields 14 and 15; the command
    /// name in field 2 may hold spaces, so fields are counted after its `)`).
    fn cpu_s(&self) -> anyhow::Result<f64> {
        let stat = self.read("stat")?;
        let after_name = &stat[stat.rfind(')').context("no command name")? + 1..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks =
            |index: usize| -> anyhow::Result<f64> { Ok(fields.get(index).context("a short stat")?.parse::<f64>()?) };
        // After the name, field 3 (state) is index 0, so 14 and 15 are 11 and 12.
        Ok((ticks(11)? + ticks(12)?) / TICKS_PER_S)
    }

    fn read(&self, entry: &str) -> anyhow::Result<String> {
        let path = format!("/proc/{}/{entry}", self.pid);
        std::fs::read_to_string(&path).with_context(|| path.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_as_a_server_would() {
        let mut sampler = Sampler::new(std::process::id(), Instant::now());
        let first = sampler.sample().expect("a sample");
        assert!(first.rss_kib > 0 && first.open_files > 0, "{first:?}");
        let second = sampler.sample().expect("a second sample");
        assert!(second.cpu_pct >= 0.0 && second.at_s >= first.at_s, "{second:?}");
        assert!(Sampler::new(u32::MAX, Instant::now()).sample().is_err(), "no such process");
    }
}
