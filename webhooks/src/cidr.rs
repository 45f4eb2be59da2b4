//! An address block in CIDR notation (`10.1.2.0/24`, `fd00::/64`; a bare
//! address is a block of one).

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    str::FromStr,
};

/// An IPv4 or IPv6 address block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    address: IpAddr,
    prefix: u8,
}

/// Why a CIDR block does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CidrError {
    /// The address part is not an IP address.
    #[error("`{0}` is not an IP address")]
    Address(String),
    /// The prefix length is not a number within the address's bits.
    #[error("`{0}` is not a prefix length of 0 to {1}")]
    Prefix(String, u8),
    /// Bits after the prefix are set: the block is ambiguous.
    #[error("`{0}` has bits set after its prefix; the block is {1}")]
    HostBits(String, Cidr),
}

impl Cidr {
    /// The IPv4 block `a.b.c.d/prefix` (the prefix at most 32, the host bits zero).
    pub const fn v4(octets: [u8; 4], prefix: u8) -> Self {
        Self { address: IpAddr::V4(Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3])), prefix }
    }

    /// The IPv6 block of the eight segments and `prefix` (at most 128, the host bits zero).
    pub const fn v6(segments: [u16; 8], prefix: u8) -> Self {
        let [a, b, c, d, e, f, g, h] = segments;
        Self { address: IpAddr::V6(Ipv6Addr::new(a, b, c, d, e, f, g, h)), prefix }
    }

    /// The prefix length.
    pub fn prefix(&self) -> u8 {
        self.prefix
    }

    /// The block's first address.
    pub fn first(&self) -> IpAddr {
        self.address
    }

    /// The block's last address.
    pub fn last(&self) -> IpAddr {
        match self.address {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) | !mask_v4(self.prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) | !mask_v6(self.prefix))),
        }
    }

    /// Whether `ip` is in the block (never across address families).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.address, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => u32::from(ip) & mask_v4(self.prefix) == u32::from(net),
            (IpAddr::V6(net), IpAddr::V6(ip)) => u128::from(ip) & mask_v6(self.prefix) == u128::from(net),
            _ => false,
        }
    }
}

fn mask_v4(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn mask_v6(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Parses `address/prefix`, or a bare address as a block of one.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (address, prefix) = s.trim().split_once('/').map_or((s.trim(), None), |(a, p)| (a, Some(p)));
        let address: IpAddr = address.parse().map_err(|_| CidrError::Address(address.to_owned()))?;
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => bits,
            Some(p) => {
                p.parse::<u8>().ok().filter(|p| *p <= bits).ok_or_else(|| CidrError::Prefix(p.to_owned(), bits))?
            }
        };
        let block = Self { address, prefix };
        let network = match address {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & mask_v4(prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask_v6(prefix))),
        };
        if network == address {
            Ok(block)
        } else {
            Err(CidrError::HostBits(s.to_owned(), Self { address: network, prefix }))
        }
    }
}

impl fmt::Display for Cidr {
    /// `address/prefix`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn blocks_parse_and_hold_their_addresses_only() {
        let block: Cidr = "10.1.2.0/24".parse().unwrap();
        assert_eq!((block.first(), block.last()), (ip("10.1.2.0"), ip("10.1.2.255")));
        assert!(block.contains(ip("10.1.2.77")) && !block.contains(ip("10.1.3.0")) && !block.contains(ip("::1")));
        let block: Cidr = "fd00::/64".parse().unwrap();
        assert_eq!(block.last(), ip("fd00::ffff:ffff:ffff:ffff"));
        assert!(block.contains(ip("fd00::1")) && !block.contains(ip("fd00:0:0:1::")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert_eq!(
            (one.to_string(), one.first(), one.last()),
            ("192.0.2.7/32".to_owned(), ip("192.0.2.7"), ip("192.0.2.7"))
        );
        let all: Cidr = "::/0".parse().unwrap();
        assert!(all.contains(ip("2001:db8::1")) && !all.contains(ip("1.2.3.4")));
    }

    #[test]
    fn malformed_blocks_are_refused_saying_why() {
        assert_eq!("10.1.2/24".parse::<Cidr>(), Err(CidrError::Address("10.1.2".to_owned())));
        assert_eq!("10.1.2.0/33".parse::<Cidr>(), Err(CidrError::Prefix("33".to_owned(), 32)));
        assert_eq!("fd00::/x".parse::<Cidr>(), Err(CidrError::Prefix("x".to_owned(), 128)));
        assert_eq!(
            "10.1.2.3/24".parse::<Cidr>(),
            Err(CidrError::HostBits("10.1.2.3/24".to_owned(), Cidr::v4([10, 1, 2, 0], 24)))
        );
    }
}
