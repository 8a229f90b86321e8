//! The relay's seeded bad luck: which datagrams it drops, duplicates or
//! holds back.
//!
//! Every decision is a pure function of the seed and the datagram's arrival
//! number, so the same seed and the same datagrams give the same fates on
//! every run — on a loaded machine too. No `rand` crate: SplitMix64 is a few
//! lines, and its n-th output can be computed directly.

/// A rate in hundredths of a percent: `--loss 12.5` is 1250.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rate(u32);

impl Rate {
    const SCALE: u32 = 10_000;

    /// A percentage `0`..=`100`, up to two decimals, `%` optional:
    /// `25`, `12.5`, `25%`. (Not a fraction: `1` means 1 %, not 100 %.)
    pub fn parse(text: &str) -> Result<Rate, String> {
        let bad = || format!("'{text}' is not a percentage: write 0 to 100, e.g. 25 or 12.5");
        let number = text.strip_suffix('%').unwrap_or(text);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() || frac.len() > 2 || !(whole.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())) {
            return Err(bad());
        }
        let whole: u32 = whole.parse().map_err(|_| bad())?;
        let frac: u32 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().map_err(|_| bad())? };
        let hundredths = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(bad)?;
        if hundredths > Self::SCALE {
            return Err(bad());
        }
        Ok(Rate(hundredths))
    }

    fn hits(self, draw: u64) -> bool {
        draw % u64::from(Self::SCALE) < u64::from(self.0)
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 % 100 {
            0 => write!(f, "{}%", self.0 / 100),
            frac => write!(f, "{}.{:02}%", self.0 / 100, frac),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Faults {
    pub loss: Rate,
    pub dup: Rate,
    pub reorder: Rate,
    pub seed: u64,
}

/// What happens to one datagram on its way to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Forward,
    Drop,
    Duplicate,
    /// Kept back and sent after the next datagram (or after a bounded hold).
    Hold,
}

const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;

/// The k-th output (from 0) of SplitMix64 seeded with `seed`: its state
/// just adds GOLDEN per step, so any output can be computed directly.
fn splitmix64(seed: u64, k: u64) -> u64 {
    let mut z = seed.wrapping_add(k.wrapping_add(1).wrapping_mul(GOLDEN));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Faults {
    /// The fate of datagram number `n` (1 = the first to arrive). Each
    /// datagram owns three draws, one per kind of damage, so one rate
    /// never shifts the decisions of another.
    pub fn fate(&self, n: u64) -> Fate {
        let draw = |i: u64| splitmix64(self.seed, n.wrapping_mul(3).wrapping_add(i));
        if self.loss.hits(draw(0)) {
            Fate::Drop
        } else if self.dup.hits(draw(1)) {
            Fate::Duplicate
        } else if self.reorder.hits(draw(2)) {
            Fate::Hold
        } else {
            Fate::Forward
        }
    }

    /// "loss 25%, dup 10%, reorder 15%, seed 7"
    pub fn describe(&self) -> String {
        format!("loss {}, dup {}, reorder {}, seed {}", self.loss, self.dup, self.reorder, self.seed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn faults(seed: u64) -> Faults {
        let r = |s| Rate::parse(s).unwrap();
        Faults { loss: r("25"), dup: r("15"), reorder: r("15"), seed }
    }

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // Reference outputs for seed 1234567 (Vigna's splitmix64.c).
        assert_eq!(splitmix64(1_234_567, 0), 6_457_827_717_110_365_317);
        assert_eq!(splitmix64(1_234_567, 1), 3_203_168_211_198_807_973);
    }

    #[test]
    fn same_seed_same_fates_other_seed_other_fates() {
        let run = |seed| (1..=64).map(|n| faults(seed).fate(n)).collect::<Vec<_>>();
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
        let fates = run(7);
        for f in [Fate::Forward, Fate::Drop, Fate::Duplicate, Fate::Hold] {
            assert!(fates.contains(&f), "{f:?} in 64 datagrams");
        }
    }

    #[test]
    fn rates_are_respected_at_the_edges() {
        let none = Faults { seed: 3, ..Faults::default() };
        assert!((1..=1000).all(|n| none.fate(n) == Fate::Forward));
        let all = Faults { loss: Rate::parse("100%").unwrap(), ..none };
        assert!((1..=1000).all(|n| all.fate(n) == Fate::Drop));
        let quarter = Faults { loss: Rate::parse("25").unwrap(), ..none };
        let drops = (1..=10_000).filter(|&n| quarter.fate(n) == Fate::Drop).count();
        assert!((2200..2800).contains(&drops), "{drops}");
    }

    #[test]
    fn percentages_parse_and_print() {
        assert_eq!(Rate::parse("12.5").unwrap().to_string(), "12.50%");
        assert_eq!(Rate::parse("25%").unwrap().to_string(), "25%");
        assert_eq!(Rate::parse("0").unwrap(), Rate::default());
        for bad in ["", "-1", "101", "0.5.1", "1e2", "12.345", "abc", "%"] {
            assert!(Rate::parse(bad).is_err(), "{bad}");
        }
    }
}
