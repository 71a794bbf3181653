//! Connection caps: how many connections may be open at once, in all and per client address.
//! A connection holds a [`Slot`] for as long as it is open; dropping the slot (on every path
//! a connection task can end, panics included) gives the place back.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// Which cap a refused connection hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `server.max_connections`.
    Total,
    /// `server.max_connections_per_ip`.
    PerClient,
}

pub struct ConnectionCaps {
    max_total: usize,
    /// 0: no per-client cap.
    max_per_client: usize,
    open: Mutex<Open>,
}

#[derive(Default)]
struct Open {
    total: usize,
    /// Only clients with at least one open connection have an entry.
    per_client: HashMap<IpAddr, usize>,
}

/// One admitted connection's place under the caps.
pub struct Slot {
    caps: Arc<ConnectionCaps>,
    /// `None` when the per-client cap is off.
    client: Option<IpAddr>,
}

impl ConnectionCaps {
    pub fn new(max_total: usize, max_per_client: usize) -> Arc<ConnectionCaps> {
        Arc::new(ConnectionCaps {
            max_total,
            max_per_client,
            open: Mutex::new(Open::default()),
        })
    }

    /// A slot for a connection from `peer`, or the cap it would exceed.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refused> {
        let mut open = self.lock();
        if open.total >= self.max_total {
            return Err(Refused::Total);
        }
        let client = if self.max_per_client == 0 {
            None
        } else {
            let client = client_key(peer);
            let count = open.per_client.entry(client).or_insert(0);
            if *count >= self.max_per_client {
                return Err(Refused::PerClient);
            }
            *count += 1;
            Some(client)
        };
        open.total += 1;
        Ok(Slot {
            caps: Arc::clone(self),
            client,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    fn lock(&self) -> MutexGuard<'_, Open> {
        // The counts stay consistent under every lock (no code between two updates can
        // panic), so a poisoned lock is still right.
        self.open.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.caps.lock();
        open.total = open.total.saturating_sub(1);
        if let Some(client) = self.client {
            if let Some(count) = open.per_client.get_mut(&client) {
                *count -= 1;
                if *count == 0 {
                    open.per_client.remove(&client);
                }
            }
        }
    }
}

/// The address a per-client cap counts under: an IPv4 address (also when it arrives
/// IPv4-mapped on a dual-stack socket), or the /64 network of an IPv6 address, since one
/// subscriber usually holds a whole /64.
pub fn client_key(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn the_per_client_cap_refuses_the_next_connection_and_a_closed_one_frees_its_place() {
        let caps = ConnectionCaps::new(100, 2);
        let first = caps.admit(ip("10.0.0.1")).expect("first");
        let _second = caps.admit(ip("10.0.0.1")).expect("second");
        assert_eq!(caps.admit(ip("10.0.0.1")).err(), Some(Refused::PerClient));
        let _other = caps
            .admit(ip("10.0.0.2"))
            .expect("another client has its own cap");
        drop(first);
        let _third = caps.admit(ip("10.0.0.1")).expect("a place was freed");
        assert_eq!(caps.open(), 3);
    }

    #[test]
    fn the_total_cap_counts_every_client() {
        let caps = ConnectionCaps::new(2, 0);
        let a = caps.admit(ip("10.0.0.1")).expect("a");
        let _b = caps.admit(ip("10.0.0.2")).expect("b");
        assert_eq!(caps.admit(ip("10.0.0.3")).err(), Some(Refused::Total));
        drop(a);
        let _c = caps.admit(ip("10.0.0.3")).expect("c");
    }

    #[test]
    fn zero_switches_the_per_client_cap_off() {
        let caps = ConnectionCaps::new(1000, 0);
        let slots: Vec<Slot> = (0..500)
            .map(|_| caps.admit(ip("10.0.0.1")).expect("admitted"))
            .collect();
        assert_eq!(caps.open(), 500);
        drop(slots);
        assert_eq!(caps.open(), 0);
        assert!(caps.lock().per_client.is_empty());
    }

    #[test]
    fn released_clients_leave_no_entry_behind() {
        let caps = ConnectionCaps::new(10, 3);
        let slots: Vec<Slot> = ["10.0.0.1", "10.0.0.2", "2001:db8::1"]
            .into_iter()
            .map(|a| caps.admit(ip(a)).expect("admitted"))
            .collect();
        assert_eq!(caps.lock().per_client.len(), 3);
        drop(slots);
        assert!(caps.lock().per_client.is_empty());
        assert_eq!(caps.open(), 0);
    }

    #[test]
    fn ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            client_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("::ffff:10.1.2.3")), ip("10.1.2.3"));
        assert_eq!(client_key(ip("10.1.2.3")), ip("10.1.2.3"));
        let caps = ConnectionCaps::new(10, 1);
        let _a = caps.admit(ip("2001:db8::1")).expect("a");
        assert_eq!(
            caps.admit(ip("2001:db8::2")).err(),
            Some(Refused::PerClient)
        );
    }
}
