//! The special-purpose address blocks nudge does not deliver to by default:
//! IANA's IPv4 and IPv6 special-purpose address registries (those not globally
//! reachable, plus documentation and benchmarking), multicast and the reserved
//! blocks. Blocks that embed an IPv4 address (IPv4-mapped, the NAT64 well-known
//! prefix, 6to4) are judged by the address they embed.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr},
};

use crate::Cidr;

/// Where in an IPv6 address of the block an IPv4 address is embedded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Embeds {
    /// Nothing: the whole block is special.
    Nothing,
    /// The last 32 bits (IPv4-mapped, NAT64 `64:ff9b::/96`).
    Last32,
    /// The 32 bits after the first 16 (6to4, `2002::/16`).
    After16,
}

/// A special-purpose address block and what it is for.
#[derive(Debug, PartialEq, Eq)]
pub struct SpecialRange {
    /// The block.
    pub block: Cidr,
    /// What it is for, as the registries name it.
    pub name: &'static str,
    embeds: Embeds,
}

const fn v4(octets: [u8; 4], prefix: u8, name: &'static str) -> SpecialRange {
    SpecialRange { block: Cidr::v4(octets, prefix), name, embeds: Embeds::Nothing }
}

const fn v6(segments: [u16; 8], prefix: u8, name: &'static str, embeds: Embeds) -> SpecialRange {
    SpecialRange { block: Cidr::v6(segments, prefix), name, embeds }
}

/// Every special-purpose block; where blocks nest, the longest prefix names an address.
pub static SPECIAL_RANGES: [SpecialRange; 36] = [
    v4([0, 0, 0, 0], 8, "this network"),
    v4([10, 0, 0, 0], 8, "private use"),
    v4([100, 64, 0, 0], 10, "shared address space (carrier-grade NAT)"),
    v4([127, 0, 0, 0], 8, "loopback"),
    v4([169, 254, 0, 0], 16, "link-local"),
    v4([172, 16, 0, 0], 12, "private use"),
    v4([192, 0, 0, 0], 24, "IETF protocol assignments"),
    v4([192, 0, 2, 0], 24, "documentation (TEST-NET-1)"),
    v4([192, 88, 99, 0], 24, "6to4 relay anycast (deprecated)"),
    v4([192, 168, 0, 0], 16, "private use"),
    v4([198, 18, 0, 0], 15, "benchmarking"),
    v4([198, 51, 100, 0], 24, "documentation (TEST-NET-2)"),
    v4([203, 0, 113, 0], 24, "documentation (TEST-NET-3)"),
    v4([224, 0, 0, 0], 4, "multicast"),
    v4([240, 0, 0, 0], 4, "reserved"),
    v4([255, 255, 255, 255], 32, "limited broadcast"),
    v6([0; 8], 128, "unspecified", Embeds::Nothing),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, "loopback", Embeds::Nothing),
    v6([0; 8], 96, "IPv4-compatible (deprecated)", Embeds::Nothing),
    v6([0, 0, 0, 0, 0, 0xffff, 0, 0], 96, "IPv4-mapped", Embeds::Last32),
    v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96, "NAT64 well-known prefix", Embeds::Last32),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64 local use", Embeds::Nothing),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard only", Embeds::Nothing),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, "IETF protocol assignments", Embeds::Nothing),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32, "Teredo", Embeds::Nothing),
    v6([0x2001, 2, 0, 0, 0, 0, 0, 0], 48, "benchmarking", Embeds::Nothing),
    v6([0x2001, 0x10, 0, 0, 0, 0, 0, 0], 28, "ORCHID (deprecated)", Embeds::Nothing),
    v6([0x2001, 0x20, 0, 0, 0, 0, 0, 0], 28, "ORCHIDv2", Embeds::Nothing),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, "documentation", Embeds::Nothing),
    v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4", Embeds::After16),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation", Embeds::Nothing),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, "segment routing (SRv6) SIDs", Embeds::Nothing),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique local", Embeds::Nothing),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local", Embeds::Nothing),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)", Embeds::Nothing),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast", Embeds::Nothing),
];

/// Why an address is special: its block, and the IPv6 block that embeds it if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Special {
    /// The block the address (or the IPv4 address it embeds) is in.
    pub range: &'static SpecialRange,
    /// The embedding block and the IPv4 address it embeds.
    pub embedded_in: Option<(&'static SpecialRange, Ipv4Addr)>,
}

impl Special {
    /// The IPv4 address embedded in the one judged, if any.
    pub fn embedded(&self) -> Option<IpAddr> {
        self.embedded_in.map(|(_, v4)| IpAddr::V4(v4))
    }
}

impl fmt::Display for Special {
    /// `in 127.0.0.0/8 (loopback)`, then `, embedded as 127.0.0.1 in 2002::/16 (6to4)` if it is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "in {} ({})", self.range.block, self.range.name)?;
        match self.embedded_in {
            Some((outer, v4)) => write!(f, ", embedded as {v4} in {} ({})", outer.block, outer.name),
            None => Ok(()),
        }
    }
}

/// The special-purpose block `ip` is in, if any.
pub fn special_range(ip: IpAddr) -> Option<Special> {
    let range = SPECIAL_RANGES.iter().filter(|r| r.block.contains(ip)).max_by_key(|r| r.block.prefix())?;
    let IpAddr::V6(v6) = ip else { return Some(Special { range, embedded_in: None }) };
    let bits = u128::from(v6);
    let embedded = match range.embeds {
        Embeds::Nothing => return Some(Special { range, embedded_in: None }),
        Embeds::Last32 => bits as u32,
        Embeds::After16 => (bits >> 80) as u32,
    };
    let embedded = Ipv4Addr::from(embedded);
    special_range(IpAddr::V4(embedded))
        .map(|inner| Special { range: inner.range, embedded_in: Some((range, embedded)) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn block(s: &str) -> Option<String> {
        special_range(ip(s)).map(|special| special.range.block.to_string())
    }

    #[test]
    fn every_block_is_refused_from_its_first_to_its_last_address() {
        for range in &SPECIAL_RANGES {
            for edge in [range.block.first(), range.block.last()] {
                assert!(special_range(edge).is_some(), "{edge}, the edge of {} ({})", range.block, range.name);
            }
        }
    }

    #[test]
    fn a_plain_block_names_itself_at_its_edges_unless_a_longer_one_nests_there() {
        for range in SPECIAL_RANGES.iter().filter(|r| r.embeds == Embeds::Nothing) {
            for edge in [range.block.first(), range.block.last()] {
                let named = special_range(edge).map(|s| s.range);
                let nested = named
                    .is_some_and(|n| n.block.prefix() > range.block.prefix() && range.block.contains(n.block.first()));
                assert!(named == Some(range) || nested, "{edge} is named {named:?}, not {}", range.block);
            }
        }
    }

    #[test]
    fn the_addresses_just_outside_the_blocks_are_public() {
        let public = [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.0",
            "192.0.3.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "8.8.8.8",
            "93.184.216.34",
            "::1:0:0:0",
            "::fffe:ffff:ffff",
            "::1:0:0",
            "64:ff9b::1:0:0",
            "64:ff9a:ffff:ffff:ffff:ffff:ffff:ffff",
            "64:ff9b:2::",
            "64:ff9b::5db8:d822",
            "::ffff:93.184.216.34",
            "2002:5db8:d822::",
            "2001:200::",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2003::",
            "2606:4700::1111",
            "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff:1000::",
            "5eff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "5f01::",
            "fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "fe00::",
            "fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ];
        for address in public {
            assert_eq!(block(address), None, "{address} is public");
        }
    }

    #[test]
    fn embedded_ipv4_addresses_are_judged_by_their_own_block() {
        let cases = [
            ("64:ff9b::7f00:1", "127.0.0.0/8"),
            ("64:ff9b::a9fe:a9fe", "169.254.0.0/16"),
            ("64:ff9b:1::5db8:d822", "64:ff9b:1::/48"),
            ("2002:7f00:1::", "127.0.0.0/8"),
            ("2002:a9fe:a9fe::", "169.254.0.0/16"),
            ("2002:a00:1:ffff::1", "10.0.0.0/8"),
            ("::ffff:10.0.0.1", "10.0.0.0/8"),
            ("::ffff:0.0.0.0", "0.0.0.0/8"),
            ("::127.0.0.1", "::/96"),
            ("::", "::/128"),
            ("::1", "::1/128"),
            ("2001::5db8:d822", "2001::/32"),
            ("fec0::1", "fec0::/10"),
            ("ff02::1", "ff00::/8"),
            ("224.0.0.1", "224.0.0.0/4"),
            ("198.19.255.255", "198.18.0.0/15"),
            ("192.0.0.8", "192.0.0.0/24"),
            ("240.0.0.1", "240.0.0.0/4"),
            ("255.255.255.255", "255.255.255.255/32"),
            ("169.254.169.254", "169.254.0.0/16"),
            ("fd00:ec2::254", "fc00::/7"),
        ];
        for (address, expected) in cases {
            assert_eq!(block(address).as_deref(), Some(expected), "{address}");
        }
        let special = special_range(ip("2002:7f00:1::")).unwrap();
        assert_eq!(special.embedded(), Some(ip("127.0.0.1")));
        assert_eq!(special.to_string(), "in 127.0.0.0/8 (loopback), embedded as 127.0.0.1 in 2002::/16 (6to4)");
        assert_eq!(special_range(ip("10.1.2.3")).unwrap().to_string(), "in 10.0.0.0/8 (private use)");
        assert!(special_range(ip("93.184.216.34")).is_none() && special_range(ip("100.64.0.1")).is_some());
    }
}
