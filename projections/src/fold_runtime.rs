//! The runtime the projection's runs fold on, apart from the one that serves
//! requests.
//!
//! On the server's runtime, a batch's fold held one of the workers that
//! requests queue for: one event a request on PostgreSQL at 16 clients
//! appended 3 to 5 % more once the folds had workers of their own
//! (BENCHMARKS.md, sessions 60 and 61). Whatever a run connects to is driven
//! here too.

use tokio::runtime::{Builder, Handle, Runtime};

use crate::ProjectionError;

/// Starts `workers` threads for the projection's runs. They stop when the
/// runtime this is called on stops: the API and the projection share
/// connection pools, and a connection opened on a stopped runtime fails, so
/// neither stops before the other has finished with them.
pub(crate) fn start(workers: usize) -> Result<Handle, ProjectionError> {
    let runtime = Builder::new_multi_thread()
        .worker_threads(workers.max(1))
        .thread_name("nudge-projection")
        .enable_all()
        .build()
        .map_err(|e| ProjectionError::Crashed(format!("the projection's runtime cannot start: {e}")))?;
    let handle = runtime.handle().clone();
    let stops = StopsWith(Some(runtime));
    tokio::spawn(async move {
        let _stops = stops;
        std::future::pending::<()>().await;
    });
    Ok(handle)
}

/// Stops the runtime it holds when dropped, without waiting for its tasks:
/// they are dropped, as the caller's own are.
struct StopsWith(Option<Runtime>);

impl Drop for StopsWith {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use super::*;

    #[test]
    fn tasks_run_on_threads_of_their_own_and_are_dropped_when_the_callers_runtime_stops() {
        /// Says when the task holding it is dropped.
        struct Dropped(mpsc::Sender<()>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let (dropped, was_dropped) = mpsc::channel();
        let caller = Builder::new_current_thread().enable_all().build().unwrap();
        let name = caller.block_on(async {
            let handle = start(2).unwrap();
            let (started, running) = tokio::sync::oneshot::channel();
            let dropped = Dropped(dropped);
            handle.spawn(async move {
                let _dropped = dropped;
                let _ = started.send(std::thread::current().name().map(str::to_owned));
                std::future::pending::<()>().await;
            });
            running.await.unwrap()
        });
        assert_eq!(name.as_deref(), Some("nudge-projection"));
        assert_eq!(was_dropped.try_recv(), Err(mpsc::TryRecvError::Empty), "it runs while its caller's runtime does");
        drop(caller);
        assert_eq!(was_dropped.recv(), Ok(()));
    }
}
