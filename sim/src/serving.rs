//! An axum app on its own thread and tokio runtime, stopped when dropped: what the Salesforce
//! simulator and the SCIM simulator share.
//!
//! The synchronous tests of the CLI start one server per test; each runs on a runtime of its own
//! so that a test never needs one, and dropping the handle stops the server promptly (open
//! connections are cut, not drained).

use std::future::Future;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

/// A running server; dropping it stops the server and waits for its thread.
pub(crate) struct Serving {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Serving {
    /// Serves on `listener` (bound, not yet non-blocking) with `serve`, on a thread named `name`.
    pub(crate) fn spawn<F, Fut>(
        name: &'static str,
        listener: std::net::TcpListener,
        serve: F,
    ) -> anyhow::Result<Serving>
    where
        F: FnOnce(tokio::net::TcpListener) -> Fut + Send + 'static,
        Fut: Future<Output = std::io::Result<()>>,
    {
        listener.set_nonblocking(true)?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name(name)
            .enable_all()
            .build()
            .with_context(|| format!("starting the {name} tokio runtime"))?;
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                runtime.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(listener) {
                        Ok(l) => l,
                        Err(e) => {
                            eprintln!("{name}: cannot use the listening socket: {e}");
                            return;
                        }
                    };
                    tokio::select! {
                        result = serve(listener) => {
                            if let Err(e) = result {
                                eprintln!("{name}: server error: {e}");
                            }
                        }
                        _ = rx => {}
                    }
                });
                // Connections still open are cut, not drained: a test double
                // must stop promptly even if a client keeps a connection alive.
                runtime.shutdown_timeout(Duration::from_secs(1));
            })
            .with_context(|| format!("spawning the {name} thread"))?;
        Ok(Serving { shutdown: Some(tx), thread: Some(thread) })
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
