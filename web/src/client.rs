//! Who the client is, for the per-client limits: the peer address, or (behind a trusted proxy
//! only) the address that proxy saw, reduced to the unit one client controls: an IPv4 address
//! (/32) or an IPv6 /64 (one host commonly holds a whole /64, so finer keys let it be many
//! clients).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};

/// The header a trusted reverse proxy sets (each proxy appends the address it received the
/// request from).
pub const FORWARDED_FOR: &str = "x-forwarded-for";

/// The throttling key of a client: an IPv4 address or an IPv6 /64 prefix (IPv4-mapped IPv6
/// addresses count as IPv4).
pub fn client_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                IpAddr::V6(Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The client's address: the peer's, unless the peer is one of `trusted_proxies`; then the
/// right-most `X-Forwarded-For` entry that is not itself a trusted proxy (entries left of it
/// are the client's own claims). A trusted proxy that sent no usable entry: the proxy itself.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted_proxies: &[IpAddr]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted_proxies.contains(&normalise(*address));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut hops: Vec<IpAddr> = Vec::new();
    for value in headers.get_all(FORWARDED_FOR) {
        let Ok(text) = value.to_str() else {
            return peer;
        };
        for entry in text.split(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(address) => hops.push(address),
                // An entry we cannot read: nothing left of it can be trusted either.
                Err(_) => hops.clear(),
            }
        }
    }
    hops.into_iter()
        .rev()
        .find(|address| !is_trusted(address))
        .unwrap_or(peer)
}

/// The throttling key of a request's client ([`client_key`] of [`client_address`]), the peer
/// taken from axum's connect info. Without it (a router used in-process), the unspecified
/// address.
pub fn request_client_key(
    extensions: &Extensions,
    headers: &HeaderMap,
    trusted_proxies: &[IpAddr],
) -> IpAddr {
    let peer = extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip())
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    client_key(client_address(peer, headers, trusted_proxies))
}

fn normalise(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V4(Ipv4Addr::BROADCAST))
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_ipv4_by_address() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa::1")),
            client_key(ip("2001:db8:1:2:ffff:1:2:3"))
        );
        assert_ne!(
            client_key(ip("2001:db8:1:2::1")),
            client_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(client_key(ip("2001:db8:1:2::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_ne!(client_key(ip("192.0.2.7")), client_key(ip("192.0.2.8")));
    }

    #[test]
    fn forwarded_addresses_count_only_from_a_trusted_proxy() {
        let mut headers = HeaderMap::new();
        headers.insert(
            FORWARDED_FOR,
            HeaderValue::from_static("198.51.100.9, 203.0.113.5"),
        );
        let proxy = ip("10.0.0.2");
        // Off by default: the header is the client's own claim.
        assert_eq!(client_address(proxy, &headers, &[]), proxy);
        // From another peer than the proxy: ignored.
        assert_eq!(
            client_address(ip("192.0.2.1"), &headers, &[proxy]),
            ip("192.0.2.1")
        );
        // From the proxy: the right-most entry, the one the proxy saw; the left one is a claim.
        assert_eq!(client_address(proxy, &headers, &[proxy]), ip("203.0.113.5"));
        // Two proxies in a row: skip the trusted inner hop.
        headers.insert(
            FORWARDED_FOR,
            HeaderValue::from_static("198.51.100.9, 203.0.113.5, 10.0.0.3"),
        );
        assert_eq!(
            client_address(proxy, &headers, &[proxy, ip("10.0.0.3")]),
            ip("203.0.113.5")
        );
        // Garbage: the proxy itself.
        headers.insert(FORWARDED_FOR, HeaderValue::from_static("not-an-address"));
        assert_eq!(client_address(proxy, &headers, &[proxy]), proxy);
    }
}
