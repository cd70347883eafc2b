//! The gateway shards one `hearth run` process serves (`--shards A-B --shard-total N`), checked
//! before anything starts.

/// The shards one `hearth run` process serves: `first..=last` of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    pub first: u32,
    pub last: u32,
    pub total: u32,
}

impl std::fmt::Display for ShardRange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{} of {}", self.first, self.last, self.total)
    }
}

/// `--shards A-B --shard-total N`, both or neither: `Ok(None)` for neither (one shard, as
/// without sharding), else a range with `A <= B < N`; the error names the flag and the fix.
pub fn shard_range(shards: Option<&str>, total: Option<u32>) -> Result<Option<ShardRange>, String> {
    const EXAMPLE: &str = "e.g. --shards 0-1 --shard-total 2";
    let (shards, total) = match (shards, total) {
        (None, None) => return Ok(None),
        (Some(shards), Some(total)) => (shards, total),
        (Some(shards), None) => {
            return Err(format!(
                "--shards {shards} needs --shard-total\n  fix: add --shard-total with the number of shards of all processes together ({EXAMPLE}), or leave both out"
            ))
        }
        (None, Some(total)) => {
            return Err(format!(
                "--shard-total {total} needs --shards\n  fix: add the shards this process runs, --shards A-B ({EXAMPLE}), or leave both out"
            ))
        }
    };
    let id = |text: &str| text.trim().parse::<u32>().ok();
    let (first, last) = match shards.split_once('-') {
        Some((a, b)) => id(a).zip(id(b)),
        None => id(shards).map(|a| (a, a)),
    }
    .ok_or_else(|| {
        format!("--shards {shards} is not a range of shard ids\n  fix: write it as A-B with A <= B, {EXAMPLE} (one shard: --shards 3)")
    })?;
    if total == 0 {
        return Err(format!(
            "--shard-total 0: a bot has at least one shard\n  fix: give --shard-total 1 or more ({EXAMPLE})"
        ));
    }
    if first > last {
        return Err(format!(
            "--shards {shards} runs backwards\n  fix: put the lower shard id first: --shards {last}-{first}"
        ));
    }
    if last >= total {
        let highest = total - 1;
        return Err(format!(
            "--shards {shards} names shard {last}, but with --shard-total {total} shard ids go from 0 to {highest}\n  fix: end the range at {highest} or below, or raise --shard-total to {}",
            u64::from(last) + 1
        ));
    }
    Ok(Some(ShardRange { first, last, total }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(first: u32, last: u32, total: u32) -> Option<ShardRange> {
        Some(ShardRange { first, last, total })
    }

    #[test]
    fn both_flags_or_neither() {
        assert_eq!(shard_range(None, None), Ok(None));
        let only_shards = shard_range(Some("0-1"), None).unwrap_err();
        assert!(only_shards.contains("needs --shard-total"), "{only_shards}");
        assert!(only_shards.contains("fix:"), "{only_shards}");
        let only_total = shard_range(None, Some(2)).unwrap_err();
        assert!(only_total.contains("needs --shards"), "{only_total}");
    }

    #[test]
    fn ranges_within_the_total_are_accepted() {
        assert_eq!(shard_range(Some("0-1"), Some(2)), Ok(range(0, 1, 2)));
        assert_eq!(shard_range(Some("3-3"), Some(4)), Ok(range(3, 3, 4)));
        assert_eq!(shard_range(Some("2"), Some(4)), Ok(range(2, 2, 4)));
        assert_eq!(shard_range(Some("0-0"), Some(1)), Ok(range(0, 0, 1)));
        assert_eq!(range(4, 7, 10).unwrap().to_string(), "4-7 of 10");
    }

    #[test]
    fn bad_ranges_name_the_flag_and_the_fix() {
        for (shards, total, says) in [
            ("2-1", 2, "--shards 1-2"),
            ("0-2", 2, "raise --shard-total to 3"),
            ("2", 2, "from 0 to 1"),
            ("0-1", 0, "--shard-total 1 or more"),
            ("a-b", 2, "write it as A-B"),
            ("-1", 2, "write it as A-B"),
            ("0-", 2, "write it as A-B"),
            ("", 2, "write it as A-B"),
        ] {
            let err = shard_range(Some(shards), Some(total)).unwrap_err();
            assert!(err.contains(says), "{shards}/{total}: {err}");
            assert!(err.contains("\n  fix: "), "{shards}/{total}: {err}");
        }
    }
}
