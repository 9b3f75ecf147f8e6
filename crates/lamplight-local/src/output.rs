//! Output capture: a runtime's stdout and stderr, read line by line into its log.

use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, ReadBuf};

use crate::logs::{LineSplitter, MAX_LINE};

/// The captured pipes of one runtime.
#[derive(Default)]
pub(crate) struct Output {
    pipes: Mutex<Vec<Pipe>>,
}

/// One captured pipe: a duplicate of its descriptor to ask how much is unread, and the gate the
/// reader holds while it reads and logs.
struct Pipe {
    fd: OwnedFd,
    gate: Arc<Mutex<()>>,
}

impl Output {
    /// Reads `pipe` until it closes, handing each line to `log`.
    pub fn capture<R, F>(&self, pipe: R, log: F)
    where
        R: AsyncRead + AsFd + Unpin + Send + 'static,
        F: Fn(String) + Send + Sync + 'static,
    {
        let gate = Arc::new(Mutex::new(()));
        if let Ok(fd) = pipe.as_fd().try_clone_to_owned() {
            self.pipes
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Pipe {
                    fd,
                    gate: gate.clone(),
                });
        }
        tokio::spawn(read_lines(pipe, gate, log));
    }

    /// Waits (briefly) until the readers have logged everything already written to the pipes:
    /// lines a runtime prints before it answers belong to that invocation.
    pub async fn drain(&self) {
        let deadline = Instant::now() + Duration::from_millis(100);
        loop {
            let unread = {
                let pipes = self.pipes.lock().unwrap_or_else(|e| e.into_inner());
                pipes.iter().any(|o| {
                    // Holding the gate, no read is half-done: what the kernel still holds is all
                    // that is unlogged.
                    let _held = o.gate.lock().unwrap_or_else(|e| e.into_inner());
                    rustix::io::ioctl_fionread(&o.fd).is_ok_and(|n| n > 0)
                })
            };
            if !unread || Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Lets go of the duplicated descriptors once the runtime is gone.
    pub fn close(&self) {
        self.pipes.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

/// Reads one output pipe line by line until it closes. Each read and the logging of what it
/// read happen under `gate`, so [`Output::drain`] never sees a read half done.
async fn read_lines<R: AsyncRead + Unpin + Send, F: Fn(String) + Sync>(
    mut pipe: R,
    gate: Arc<Mutex<()>>,
    log: F,
) {
    let mut lines = LineSplitter::new(MAX_LINE);
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let read = std::future::poll_fn(|cx| {
            let _held = gate.lock().unwrap_or_else(|e| e.into_inner());
            let mut filled = ReadBuf::new(&mut buf);
            match Pin::new(&mut pipe).poll_read(cx, &mut filled) {
                std::task::Poll::Ready(Ok(())) => {
                    let n = filled.filled().len();
                    lines.push(&buf[..n], &log);
                    std::task::Poll::Ready(n)
                }
                std::task::Poll::Ready(Err(_)) => std::task::Poll::Ready(0),
                std::task::Poll::Pending => std::task::Poll::Pending,
            }
        })
        .await;
        if read == 0 {
            break;
        }
    }
    if let Some(line) = lines.finish() {
        log(line);
    }
}
