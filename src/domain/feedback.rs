//! The close-the-loop feedback protocol: statuses, what each means to the submitter, and the
//! report of `/feedback report`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// Where an item is in the loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    New,
    Acknowledged,
    Planned,
    InProgress,
    Shipped,
    Declined,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Self::New,
        Self::Acknowledged,
        Self::Planned,
        Self::InProgress,
        Self::Shipped,
        Self::Declined,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Acknowledged => "acknowledged",
            Self::Planned => "planned",
            Self::InProgress => "in-progress",
            Self::Shipped => "shipped",
            Self::Declined => "declined",
        }
    }

    /// The public follow-up posted in the item's thread.
    pub fn follow_up(self) -> &'static str {
        match self {
            Self::New => "is open",
            Self::Acknowledged => "was read by the team: thank you! We will follow up here",
            Self::Planned => "is planned",
            Self::InProgress => "is being worked on",
            Self::Shipped => "has shipped 🎉",
            Self::Declined => "will not be done for now",
        }
    }

    pub fn is_closed(self) -> bool {
        matches!(self, Self::Shipped | Self::Declined)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|x| x.name() == s)
            .ok_or_else(|| {
                format!(
                    "`{s}` is not a status; use {}",
                    Self::ALL.map(Status::name).join(", ")
                )
            })
    }
}

/// One item as the report sees it.
#[derive(Clone, Debug)]
pub struct ItemFacts {
    pub category: String,
    pub status: Status,
    pub created_at: i64,
    pub acknowledged_at: Option<i64>,
}

/// `/feedback report`.
#[derive(Clone, Debug, PartialEq)]
pub struct FeedbackReport {
    pub per_status: BTreeMap<Status, usize>,
    /// Categories by item count, most first.
    pub top_categories: Vec<(String, usize)>,
    pub median_ack_secs: Option<i64>,
    /// Items still new after the SLA.
    pub past_sla: usize,
}

pub fn report(items: &[ItemFacts], now: i64, sla_secs: i64) -> FeedbackReport {
    let mut per_status = BTreeMap::new();
    let mut categories: BTreeMap<String, usize> = BTreeMap::new();
    let mut acks: Vec<i64> = Vec::new();
    let mut past_sla = 0;
    for item in items {
        *per_status.entry(item.status).or_default() += 1;
        *categories.entry(item.category.clone()).or_default() += 1;
        if let Some(ack) = item.acknowledged_at {
            acks.push(ack - item.created_at);
        } else if item.status == Status::New && now - item.created_at > sla_secs {
            past_sla += 1;
        }
    }
    acks.sort_unstable();
    let median_ack_secs = match acks.len() {
        0 => None,
        n if n % 2 == 1 => Some(acks[n / 2]),
        n => Some((acks[n / 2 - 1] + acks[n / 2]) / 2),
    };
    let mut top_categories: Vec<(String, usize)> = categories.into_iter().collect();
    top_categories.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    FeedbackReport {
        per_status,
        top_categories,
        median_ack_secs,
        past_sla,
    }
}

/// Discord allows at most this many tags on a forum.
pub const FORUM_TAG_LIMIT: usize = 20;

/// The forum tags an item carries: its category, and its status once it has left `new`.
pub fn wanted_tags(category: &str, status: Status) -> Vec<String> {
    let mut tags = vec![category.to_owned()];
    if status != Status::New {
        tags.push(status.name().to_owned());
    }
    tags
}

/// How an item's tags are reached on a forum with `available` tags (id, name): the names to
/// create first (as many as the forum still has room for) and, once created, the ids to apply.
/// Names match without regard to case, so a manager's "Bug" tag serves the `bug` category.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagPlan {
    pub create: Vec<String>,
    pub apply: Vec<u64>,
}

pub fn tag_plan(available: &[(u64, String)], wanted: &[String]) -> TagPlan {
    let find = |name: &str| {
        available
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name))
            .map(|(id, _)| *id)
    };
    let room = FORUM_TAG_LIMIT.saturating_sub(available.len());
    TagPlan {
        create: wanted
            .iter()
            .filter(|w| find(w).is_none())
            .take(room)
            .cloned()
            .collect(),
        apply: wanted.iter().filter_map(|w| find(w)).collect(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tags_are_matched_by_name_and_created_when_missing() {
        let available = vec![(1, "Bug".to_owned()), (2, "planned".to_owned())];
        let plan = tag_plan(&available, &wanted_tags("bug", Status::Shipped));
        assert_eq!(plan.create, vec!["shipped".to_owned()]);
        assert_eq!(plan.apply, vec![1]);
        let plan = tag_plan(&available, &wanted_tags("bug", Status::Planned));
        assert!(plan.create.is_empty());
        assert_eq!(plan.apply, vec![1, 2]);
        assert_eq!(wanted_tags("idea", Status::New), vec!["idea".to_owned()]);
        let full: Vec<(u64, String)> = (0..20).map(|i| (i, format!("t{i}"))).collect();
        assert!(tag_plan(&full, &wanted_tags("idea", Status::New))
            .create
            .is_empty());
    }

    use super::*;

    #[test]
    fn statuses_parse_by_name() {
        assert_eq!("in-progress".parse::<Status>().unwrap(), Status::InProgress);
        assert!("done".parse::<Status>().unwrap_err().contains("shipped"));
    }

    #[test]
    fn report_by_hand() {
        let item = |category: &str, status, created_at, acknowledged_at| ItemFacts {
            category: category.into(),
            status,
            created_at,
            acknowledged_at,
        };
        let items = [
            item("bug", Status::Shipped, 0, Some(100)),
            item("bug", Status::Acknowledged, 0, Some(300)),
            item("idea", Status::New, 0, None),
            item("idea", Status::New, 9_000, None),
            item("docs", Status::Planned, 0, Some(200)),
        ];
        let r = report(&items, 10_000, 5_000);
        assert_eq!(r.per_status[&Status::New], 2);
        assert_eq!(r.top_categories[0], ("bug".to_owned(), 2));
        assert_eq!(r.median_ack_secs, Some(200));
        assert_eq!(r.past_sla, 1, "only the old unacknowledged item");
    }
}
