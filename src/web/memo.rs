//! Figures computed once for everyone asking within a short while. A page's figures over a
//! year of history take tens to hundreds of milliseconds; fifty managers (or one impatient one
//! reloading) asking at once would queue behind each other on two cores. So the first request
//! computes, the ones arriving meanwhile wait for that same result, and later ones reuse it
//! until it is `ttl` old. A failed computation is not kept: the next request tries again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::OnceCell;

/// At most this many keys are kept; older ones go first once it is reached.
const MAX_KEYS: usize = 512;

/// A value being or already computed, and since when.
type Entry<V> = (Instant, Arc<OnceCell<Arc<V>>>);

pub struct Memo<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, Entry<V>>>,
}

impl<K: Hash + Eq + Clone, V> Memo<K, V> {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value for `key` and when it was computed: a fresh one from `compute`, or one being
    /// or already computed within `ttl`.
    pub async fn get<F, Fut, E>(&self, key: K, compute: F) -> Result<(Arc<V>, Instant), E>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<V, E>>,
    {
        let now = Instant::now();
        let (since, cell) = {
            let mut entries = self.entries.lock();
            match entries.get(&key) {
                Some((since, cell)) if now.duration_since(*since) < self.ttl => {
                    (*since, Arc::clone(cell))
                }
                _ => {
                    if entries.len() >= MAX_KEYS {
                        entries.retain(|_, (since, _)| now.duration_since(*since) < self.ttl);
                        if entries.len() >= MAX_KEYS {
                            entries.clear();
                        }
                    }
                    let cell = Arc::new(OnceCell::new());
                    entries.insert(key, (now, Arc::clone(&cell)));
                    (now, cell)
                }
            }
        };
        let value = cell
            .get_or_try_init(|| async { compute().await.map(Arc::new) })
            .await?;
        Ok((Arc::clone(value), since))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn concurrent_askers_share_one_computation_and_it_expires() {
        // A long life: the test does not depend on how fast the machine is.
        let memo = Arc::new(Memo::<u8, usize>::new(Duration::from_secs(3600)));
        let runs = Arc::new(AtomicUsize::new(0));
        let ask = |memo: Arc<Memo<u8, usize>>, runs: Arc<AtomicUsize>| async move {
            memo.get(1, || async {
                tokio::time::sleep(Duration::from_millis(50)).await;
                Ok::<_, ()>(runs.fetch_add(1, Ordering::SeqCst) + 1)
            })
            .await
            .unwrap()
            .0
        };
        let askers: Vec<_> = (0..20)
            .map(|_| tokio::spawn(ask(memo.clone(), runs.clone())))
            .collect();
        for asker in askers {
            assert_eq!(*asker.await.unwrap(), 1);
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert_eq!(*ask(memo.clone(), runs.clone()).await, 1, "reused later");
        // With no life at all, each ask computes again.
        let expired = Arc::new(Memo::<u8, usize>::new(Duration::ZERO));
        assert_eq!(*ask(expired.clone(), runs.clone()).await, 2);
        assert_eq!(*ask(expired, runs.clone()).await, 3, "expired");
    }

    #[tokio::test]
    async fn a_failure_is_not_kept() {
        let memo = Memo::<u8, u8>::new(Duration::from_secs(60));
        assert!(memo
            .get(1, || async { Err::<u8, &str>("busy") })
            .await
            .is_err());
        let (value, _) = memo.get(1, || async { Ok::<_, &str>(7) }).await.unwrap();
        assert_eq!(*value, 7);
    }
}
