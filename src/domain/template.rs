//! Templates of welcomes and saved replies: `{variable}` substitution, checked when a template
//! is saved so that nobody ever meets a broken one.

use std::fmt;

/// The variables templates may use: welcomes (product §3) and saved replies (§12) each allow
/// their own set ([`WELCOME`], [`SAVED_REPLY`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variable {
    /// `{user}`: a mention of the member.
    User,
    /// `{username}`: the member's display name, as text.
    Username,
    /// `{server}`: the server's name.
    Server,
    /// `{member_count}`: e.g. 1,024.
    MemberCount,
    /// `{member_count_ord}`: e.g. 1,024th.
    MemberCountOrd,
    /// `{intro_channel}`: a mention of the intros channel.
    IntroChannel,
    /// `{rules_channel}`: a mention of the server's rules channel.
    RulesChannel,
    /// `{channel}`: a mention of the channel the text is posted in.
    Channel,
}

/// What a welcome template may use.
pub const WELCOME: [Variable; 7] = [
    Variable::User,
    Variable::Username,
    Variable::Server,
    Variable::MemberCount,
    Variable::MemberCountOrd,
    Variable::IntroChannel,
    Variable::RulesChannel,
];

/// What a saved reply may use: `{user}` is the member replied to.
pub const SAVED_REPLY: [Variable; 5] = [
    Variable::User,
    Variable::Username,
    Variable::Server,
    Variable::Channel,
    Variable::RulesChannel,
];

impl Variable {
    pub const ALL: [Variable; 8] = [
        Self::User,
        Self::Username,
        Self::Server,
        Self::MemberCount,
        Self::MemberCountOrd,
        Self::IntroChannel,
        Self::RulesChannel,
        Self::Channel,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Username => "username",
            Self::Server => "server",
            Self::MemberCount => "member_count",
            Self::MemberCountOrd => "member_count_ord",
            Self::IntroChannel => "intro_channel",
            Self::RulesChannel => "rules_channel",
            Self::Channel => "channel",
        }
    }

    /// The longest text this variable can render to, from Discord's limits: snowflake mentions
    /// are at most 23 characters, names 32, server names 100; member counts stay below 10^9.
    pub fn max_len(self) -> usize {
        match self {
            Self::User | Self::IntroChannel | Self::RulesChannel | Self::Channel => 23,
            Self::Username => 32,
            Self::Server => 100,
            Self::MemberCount => 11,
            Self::MemberCountOrd => 13,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.name() == name)
    }
}

/// One piece of a parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(Variable),
}

/// A parsed, valid template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    parts: Vec<Part>,
}

/// Why a template was refused, naming the offending part.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("unknown variable `{{{name}}}` at character {position}; use one of {allowed}")]
    UnknownVariable {
        name: String,
        position: usize,
        allowed: String,
    },
    #[error("`{{` at character {position} is never closed; write `{{{{` for a literal brace")]
    Unclosed { position: usize },
    #[error("`}}` at character {position} has no opening `{{`; write `}}}}` for a literal brace")]
    Unopened { position: usize },
    #[error("the template is empty")]
    Empty,
    #[error("the template can render to {max} characters, over Discord's {limit}-character limit ({detail}); shorten it by {}", max - limit)]
    TooLong {
        max: usize,
        limit: usize,
        detail: String,
    },
}

/// Discord's limit for a message's content.
pub const CONTENT_LIMIT: usize = 2000;

impl Template {
    /// A welcome template ([`WELCOME`] variables); see [`Template::parse_with`].
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        Self::parse_with(source, &WELCOME)
    }

    /// Parses and validates: variables outside `allowed`, unbalanced braces, and templates that
    /// could exceed Discord's limit with the longest possible values are refused.
    pub fn parse_with(source: &str, allowed: &[Variable]) -> Result<Self, TemplateError> {
        if source.trim().is_empty() {
            return Err(TemplateError::Empty);
        }
        let chars: Vec<char> = source.chars().collect();
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            match chars[i] {
                '{' if chars.get(i + 1) == Some(&'{') => {
                    text.push('{');
                    i += 2;
                }
                '}' if chars.get(i + 1) == Some(&'}') => {
                    text.push('}');
                    i += 2;
                }
                '{' => {
                    let close = chars[i + 1..]
                        .iter()
                        .position(|c| *c == '}')
                        .ok_or(TemplateError::Unclosed { position: i + 1 })?;
                    let name: String = chars[i + 1..i + 1 + close].iter().collect();
                    let var = Variable::from_name(name.trim())
                        .filter(|v| allowed.contains(v))
                        .ok_or_else(|| TemplateError::UnknownVariable {
                            name: name.clone(),
                            position: i + 1,
                            allowed: allowed
                                .iter()
                                .map(|v| format!("{{{}}}", v.name()))
                                .collect::<Vec<_>>()
                                .join(", "),
                        })?;
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Var(var));
                    i += close + 2;
                }
                '}' => return Err(TemplateError::Unopened { position: i + 1 }),
                c => {
                    text.push(c);
                    i += 1;
                }
            }
        }
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        let template = Self {
            source: source.to_owned(),
            parts,
        };
        template.check_length()?;
        Ok(template)
    }

    fn check_length(&self) -> Result<(), TemplateError> {
        let text_len: usize = self
            .parts
            .iter()
            .map(|p| match p {
                Part::Text(t) => t.chars().count(),
                Part::Var(_) => 0,
            })
            .sum();
        let vars: Vec<Variable> = self
            .parts
            .iter()
            .filter_map(|p| match p {
                Part::Var(v) => Some(*v),
                Part::Text(_) => None,
            })
            .collect();
        let vars_len: usize = vars.iter().map(|v| v.max_len()).sum();
        let max = text_len + vars_len;
        if max <= CONTENT_LIMIT {
            return Ok(());
        }
        let detail = if vars.is_empty() {
            format!("{text_len} characters of text")
        } else {
            format!(
                "{text_len} characters of text, plus up to {vars_len} from {}",
                vars.iter()
                    .map(|v| format!("{{{}}}", v.name()))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        Err(TemplateError::TooLong {
            max,
            limit: CONTENT_LIMIT,
            detail,
        })
    }

    /// The template as the manager wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the template mentions the member (then the post pings them).
    pub fn mentions_user(&self) -> bool {
        self.parts.contains(&Part::Var(Variable::User))
    }

    /// Renders with the given values; never longer than [`CONTENT_LIMIT`] when the values
    /// respect Discord's limits.
    pub fn render(&self, values: &Values<'_>) -> String {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => out.push_str(&values.get(*v)),
            }
        }
        out
    }
}

impl fmt::Display for Template {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// The values of one rendering.
#[derive(Clone, Debug)]
pub struct Values<'a> {
    pub user_id: u64,
    pub username: &'a str,
    pub server: &'a str,
    pub member_count: u64,
    pub intro_channel: Option<u64>,
    pub rules_channel: Option<u64>,
    /// The channel posted in (saved replies).
    pub channel: Option<u64>,
}

impl Values<'_> {
    fn get(&self, var: Variable) -> String {
        let channel = |id: Option<u64>, fallback: &str| {
            id.map_or_else(|| fallback.to_owned(), |id| format!("<#{id}>"))
        };
        match var {
            Variable::User => format!("<@{}>", self.user_id),
            Variable::Username => self.username.chars().take(32).collect(),
            Variable::Server => self.server.chars().take(100).collect(),
            Variable::MemberCount => thousands(self.member_count),
            Variable::MemberCountOrd => ordinal(self.member_count),
            Variable::IntroChannel => channel(self.intro_channel, "the introductions channel"),
            Variable::RulesChannel => channel(self.rules_channel, "the rules"),
            Variable::Channel => channel(self.channel, "this channel"),
        }
    }
}

/// 1024 → "1,024".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// 1024 → "1,024th", 1 → "1st", 112 → "112th".
pub fn ordinal(n: u64) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{}{suffix}", thousands(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values<'static> {
        Values {
            user_id: 42,
            username: "Noor",
            server: "Emberfall",
            member_count: 1024,
            intro_channel: Some(7),
            rules_channel: None,
            channel: None,
        }
    }

    #[test]
    fn renders_every_variable() {
        let t = Template::parse(
            "Welcome {user} ({username}) to {server}! You are our {member_count_ord} member of {member_count}. Say hi in {intro_channel}, read {rules_channel}.",
        )
        .unwrap();
        assert_eq!(
            t.render(&values()),
            "Welcome <@42> (Noor) to Emberfall! You are our 1,024th member of 1,024. Say hi in <#7>, read the rules."
        );
        assert!(t.mentions_user());
    }

    #[test]
    fn braces_can_be_escaped() {
        let t = Template::parse("{{literal}} {username}").unwrap();
        assert_eq!(t.render(&values()), "{literal} Noor");
        assert!(!t.mentions_user());
    }

    #[test]
    fn unknown_variable_is_named_with_its_position() {
        let err = Template::parse("Hi {usr}!").unwrap_err();
        assert!(
            matches!(&err, TemplateError::UnknownVariable { name, position: 4, .. } if name == "usr"),
            "{err:?}"
        );
        assert!(err.to_string().contains("{username}"));
    }

    #[test]
    fn each_kind_of_template_allows_its_own_variables() {
        // `{channel}` belongs to saved replies, `{member_count}` to welcomes.
        assert!(Template::parse("Welcome to {channel}").is_err());
        let reply = Template::parse_with(
            "See {rules_channel}, {user}; asked in {channel}",
            &SAVED_REPLY,
        )
        .unwrap();
        let rendered = reply.render(&Values {
            channel: Some(42),
            ..values()
        });
        assert!(rendered.ends_with("asked in <#42>"), "{rendered}");
        let err = Template::parse_with("{member_count} members", &SAVED_REPLY).unwrap_err();
        assert!(
            err.to_string().contains("{channel}") && !err.to_string().contains("{member_count},"),
            "{err}"
        );
    }

    #[test]
    fn unbalanced_braces_are_refused() {
        assert_eq!(
            Template::parse("Hi {user").unwrap_err(),
            TemplateError::Unclosed { position: 4 }
        );
        assert_eq!(
            Template::parse("Hi } there").unwrap_err(),
            TemplateError::Unopened { position: 4 }
        );
        assert_eq!(Template::parse("  ").unwrap_err(), TemplateError::Empty);
    }

    #[test]
    fn templates_that_can_exceed_2000_characters_are_refused() {
        let text = "x".repeat(1950);
        assert!(Template::parse(&text).is_ok());
        let err = Template::parse(&format!("{text} {{server}}")).unwrap_err();
        let TemplateError::TooLong { max, detail, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*max, 1951 + 100);
        assert!(detail.contains("{server}"), "{detail}");
        assert!(err.to_string().contains("shorten it by 51"), "{err}");
    }

    #[test]
    fn ordinals_and_thousands() {
        let cases = [
            (1, "1st"),
            (2, "2nd"),
            (3, "3rd"),
            (4, "4th"),
            (11, "11th"),
            (12, "12th"),
            (13, "13th"),
            (21, "21st"),
            (111, "111th"),
            (1_024, "1,024th"),
            (1_000_001, "1,000,001st"),
        ];
        for (n, want) in cases {
            assert_eq!(ordinal(n), want);
        }
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
    }
}
