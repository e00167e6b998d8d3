//! A lazily filled, shared memo: the first caller of a key runs the fetch, concurrent callers
//! of the same key wait for that one result. Each entry remembers the attempt ("epoch") it was
//! fetched for; a caller retrying at a later attempt gets a fresh fetch, shared again with the
//! other callers of that attempt.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

struct Slot<T> {
    epoch: u32,
    cell: Arc<OnceCell<T>>,
}

pub struct Memo<K, T> {
    slots: Mutex<HashMap<K, Slot<T>>>,
}

impl<K, T> Default for Memo<K, T> {
    fn default() -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, T> std::fmt::Debug for Memo<K, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Memo").finish_non_exhaustive()
    }
}

impl<K: Eq + Hash, T: Clone> Memo<K, T> {
    /// The value for `key` fetched at `epoch` or later; fetches it when there is none.
    pub async fn get_or_fetch<F>(&self, key: K, epoch: u32, fetch: F) -> T
    where
        F: Future<Output = T>,
    {
        let cell = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            match slots.get(&key) {
                Some(slot) if slot.epoch >= epoch => Arc::clone(&slot.cell),
                _ => {
                    let cell = Arc::new(OnceCell::new());
                    slots.insert(
                        key,
                        Slot {
                            epoch,
                            cell: Arc::clone(&cell),
                        },
                    );
                    cell
                }
            }
        };
        cell.get_or_init(|| fetch).await.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch() {
        let memo: Memo<&str, u32> = Memo::default();
        let calls = AtomicU32::new(0);
        let fetch = || async {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::task::yield_now().await;
            7
        };
        let (a, b) = tokio::join!(
            memo.get_or_fetch("pods", 0, fetch()),
            memo.get_or_fetch("pods", 0, fetch())
        );
        assert_eq!((a, b), (7, 7));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        memo.get_or_fetch("deployments", 0, fetch()).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_later_epoch_fetches_again_once() {
        let memo: Memo<&str, u32> = Memo::default();
        assert_eq!(memo.get_or_fetch("k", 0, async { 1 }).await, 1);
        assert_eq!(memo.get_or_fetch("k", 0, async { 2 }).await, 1);
        assert_eq!(memo.get_or_fetch("k", 1, async { 3 }).await, 3);
        assert_eq!(memo.get_or_fetch("k", 1, async { 4 }).await, 3);
        // An older epoch is served by the newer value.
        assert_eq!(memo.get_or_fetch("k", 0, async { 5 }).await, 3);
    }
}
