//! Programs a test starts beside the function: an emulator, a bootstrap, a client. Each runs in
//! its own process group (a terminal's Ctrl-C stays with the test), its output is collected, and
//! it is killed when dropped.

use std::io::{BufRead as _, BufReader, Read};
use std::os::unix::process::CommandExt as _;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A started program; dropping it kills it.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    output: Arc<Mutex<String>>,
    /// Reaped by [`Spawned::interrupt`]: its pid may belong to another process by now.
    reaped: bool,
}

impl Spawned {
    /// Starts `command` with no input, collecting what it writes to stdout and stderr.
    pub fn start(command: &mut Command) -> std::io::Result<Self> {
        let mut child = command
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let output = Arc::new(Mutex::new(String::new()));
        let pipes: Vec<Box<dyn Read + Send>> = [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        for pipe in pipes {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    // A reader that panicked mid-push left a whole line or none: keep going.
                    let mut out = output.lock().unwrap_or_else(|e| e.into_inner());
                    out.push_str(&line);
                    out.push('\n');
                }
            });
        }
        Ok(Self {
            child,
            output,
            reaped: false,
        })
    }

    /// The program's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `limit` for the program to exit: its status, or `None` if it still runs.
    pub fn wait_exit(
        &mut self,
        limit: Duration,
    ) -> std::io::Result<Option<std::process::ExitStatus>> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                self.reaped = true;
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sends `signal` to the program and everything it started (its process group).
    pub fn signal_group(&self, signal: rustix::process::Signal) -> std::io::Result<()> {
        if self.reaped {
            return Err(std::io::Error::other("the program has exited"));
        }
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32)
            .ok_or_else(|| std::io::Error::other("the program has no pid"))?;
        rustix::process::kill_process_group(pid, signal).map_err(std::io::Error::from)
    }

    /// Asks the program and everything it started to stop (SIGINT, as Ctrl-C in a terminal),
    /// and waits up to `limit` for the program to exit; kills the group if it does not.
    pub fn interrupt(&mut self, limit: Duration) -> std::io::Result<()> {
        self.signal_group(rustix::process::Signal::INT)?;
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                self.reaped = true;
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group(rustix::process::Signal::KILL)
    }

    /// Everything it wrote so far, stdout and stderr interleaved by line.
    pub fn output(&self) -> String {
        self.output
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Waits (blocking this thread) until its output satisfies `done`, and returns the output;
    /// after `limit`, `Err` with the output so far.
    pub fn wait_for(&self, limit: Duration, done: impl Fn(&str) -> bool) -> Result<String, String> {
        let started = Instant::now();
        loop {
            let out = self.output();
            if done(&out) {
                return Ok(out);
            }
            if started.elapsed() >= limit {
                return Err(out);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        // The whole group: a program may have started its own (cargo runs xtask, which runs
        // bootstraps). The child is reaped only below, so its pid, which is the group's id,
        // cannot have been reused. (Through rustix, not procps's `kill`, which reads
        // `-<digits>` as an option and signals pid -1, every process.)
        if !self.reaped {
            let _ = self.signal_group(rustix::process::Signal::KILL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `AWS_LAMBDA_*=value` words cargo-lambda's emulator prints for the function to use, as
/// environment variables; a colour code or control character after a value is dropped.
pub fn printed_lambda_env(output: &str) -> Vec<(String, String)> {
    output
        .split(|c: char| c.is_whitespace() || c == '\u{1b}')
        .filter(|word| word.starts_with("AWS_LAMBDA_"))
        .filter_map(|word| word.split_once('='))
        .map(|(k, v)| {
            let v = v.trim_end_matches(|c: char| !c.is_ascii_graphic());
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_collected_and_waited_for() {
        let spawned = Spawned::start(Command::new("sh").args(["-c", "echo one; echo two >&2"]))
            .expect("sh starts");
        let out = spawned
            .wait_for(Duration::from_secs(10), |o| {
                o.contains("one") && o.contains("two")
            })
            .expect("both lines");
        assert!(out.contains("one\n") && out.contains("two\n"), "{out}");
        assert!(
            spawned
                .wait_for(Duration::ZERO, |o| o.contains("three"))
                .is_err()
        );
    }

    #[test]
    fn the_emulator_environment_is_read_from_coloured_output() {
        let printed = "  AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:9000/.rt\u{1b}[0m\n  AWS_LAMBDA_FUNCTION_NAME=greeter\r\n";
        assert_eq!(
            printed_lambda_env(printed),
            [
                (
                    "AWS_LAMBDA_RUNTIME_API".to_owned(),
                    "http://127.0.0.1:9000/.rt".to_owned()
                ),
                ("AWS_LAMBDA_FUNCTION_NAME".to_owned(), "greeter".to_owned()),
            ]
        );
    }
}
