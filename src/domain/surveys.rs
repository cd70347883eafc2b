//! Surveys and NPS (product §10), the pure part: Net Promoter Score with its margin of error,
//! response rates, segments hidden below five responses, and the anonymous respondent key.

use sha2::{Digest, Sha256};

/// Answers needed before a segment (newcomers, veterans) is shown: fewer could name people.
pub const MIN_SEGMENT_RESPONSES: usize = 5;

/// Where a 0-10 answer falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// 9-10.
    Promoter,
    /// 7-8.
    Passive,
    /// 0-6.
    Detractor,
}

pub fn group(score: u8) -> Group {
    match score {
        9.. => Group::Promoter,
        7 | 8 => Group::Passive,
        _ => Group::Detractor,
    }
}

/// The NPS of a set of 0-10 answers.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Nps {
    pub responses: usize,
    pub promoters: usize,
    pub passives: usize,
    pub detractors: usize,
}

impl Nps {
    pub fn of(scores: &[u8]) -> Self {
        let count = |g: Group| scores.iter().filter(|s| group(**s) == g).count();
        Self {
            responses: scores.len(),
            promoters: count(Group::Promoter),
            passives: count(Group::Passive),
            detractors: count(Group::Detractor),
        }
    }

    /// %promoters − %detractors, from −100 to 100; `None` without answers.
    pub fn score(&self) -> Option<f64> {
        let (p, d) = self.shares()?;
        Some((p - d) * 100.0)
    }

    /// The 95% margin of error of the score, in points: 1.96 × the standard error of the
    /// difference of two shares of one multinomial sample,
    /// √((p + d − (p − d)²) / n). `None` without answers.
    pub fn margin_of_error(&self) -> Option<f64> {
        let (p, d) = self.shares()?;
        #[allow(clippy::cast_precision_loss)]
        let n = self.responses as f64;
        let variance = (p + d - (p - d).powi(2)).max(0.0) / n;
        Some(1.96 * variance.sqrt() * 100.0)
    }

    fn shares(&self) -> Option<(f64, f64)> {
        if self.responses == 0 {
            return None;
        }
        #[allow(clippy::cast_precision_loss)]
        let n = self.responses as f64;
        #[allow(clippy::cast_precision_loss)]
        Some((self.promoters as f64 / n, self.detractors as f64 / n))
    }

    /// The score shown to managers, or why there is none: `+42 ± 12`.
    pub fn shown(&self) -> String {
        match (self.score(), self.margin_of_error()) {
            (Some(score), Some(moe)) => format!("{score:+.0} ± {moe:.0}"),
            _ => "no answers yet".to_owned(),
        }
    }
}

/// Responses ÷ members reached; `None` when nobody was reached.
pub fn response_rate(responses: usize, reached: usize) -> Option<f64> {
    #[allow(clippy::cast_precision_loss)]
    (reached > 0).then(|| responses as f64 / reached as f64)
}

/// A segment's NPS, or `None` (hidden) below [`MIN_SEGMENT_RESPONSES`] answers.
pub fn segment(scores: &[u8]) -> Option<Nps> {
    (scores.len() >= MIN_SEGMENT_RESPONSES).then(|| Nps::of(scores))
}

/// A question of a custom survey (`/survey create`), as the manager writes it:
/// `scale: How was onboarding?` (1 to 5), `choice: Which day suits you? | Mon | Wed | Fri`,
/// `text: Anything else?`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Question {
    Scale { text: String },
    Choice { text: String, options: Vec<String> },
    Text { text: String },
}

/// Questions a custom survey may have: five (a form holds five text fields), of which at most
/// four scale or choice questions (a message holds five rows: four menus and a Finish button).
pub const MAX_QUESTIONS: usize = 5;
pub const MAX_MENU_QUESTIONS: usize = 4;

impl Question {
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (kind, rest) = spec.split_once(':').ok_or_else(|| {
            format!("`{spec}`: start with `scale:`, `choice:` or `text:`, e.g. `scale: How was onboarding?`")
        })?;
        let rest = rest.trim();
        let text = |t: &str| -> Result<String, String> {
            let t = t.trim();
            if t.is_empty() || t.chars().count() > 45 {
                return Err(format!("`{spec}`: the question needs 1 to 45 characters (Discord's limit for a form label)."));
            }
            Ok(t.to_owned())
        };
        match kind.trim().to_lowercase().as_str() {
            "scale" => Ok(Self::Scale { text: text(rest)? }),
            "text" => Ok(Self::Text { text: text(rest)? }),
            "choice" => {
                let mut parts = rest.split('|');
                let question = text(parts.next().unwrap_or_default())?;
                let options: Vec<String> = parts
                    .map(|o| o.trim().chars().take(100).collect::<String>())
                    .filter(|o| !o.is_empty())
                    .collect();
                if !(2..=25).contains(&options.len()) {
                    return Err(format!("`{spec}`: a choice needs 2 to 25 options after `|`, e.g. `choice: Which day? | Mon | Wed`."));
                }
                Ok(Self::Choice {
                    text: question,
                    options,
                })
            }
            other => Err(format!(
                "`{other}` is not a question kind: use scale, choice or text."
            )),
        }
    }

    pub fn text(&self) -> &str {
        match self {
            Self::Scale { text } | Self::Choice { text, .. } | Self::Text { text } => text,
        }
    }

    /// Answered with a menu (scale, choice) rather than in the form.
    pub fn is_menu(&self) -> bool {
        !matches!(self, Self::Text { .. })
    }

    /// Whether `value` answers the question.
    pub fn accepts(&self, value: &str) -> bool {
        match self {
            Self::Scale { .. } => matches!(value, "1" | "2" | "3" | "4" | "5"),
            Self::Choice { options, .. } => options.iter().any(|o| o == value),
            Self::Text { .. } => value.chars().count() <= 1000,
        }
    }
}

/// The questions of `/survey create`, checked together.
pub fn parse_questions(specs: &[&str]) -> Result<Vec<Question>, String> {
    let questions = specs
        .iter()
        .map(|s| Question::parse(s))
        .collect::<Result<Vec<_>, _>>()?;
    if questions.is_empty() || questions.len() > MAX_QUESTIONS {
        return Err(format!("a survey has 1 to {MAX_QUESTIONS} questions."));
    }
    if questions.iter().filter(|q| q.is_menu()).count() > MAX_MENU_QUESTIONS {
        return Err(format!("at most {MAX_MENU_QUESTIONS} scale or choice questions (they are menus in one message)."));
    }
    Ok(questions)
}

/// One question's results over a wave's answers (each answer: a value per question, or none).
#[derive(Clone, Debug, PartialEq)]
pub enum Summary {
    /// Average of 1-5 and how many gave each score.
    Scale {
        average: Option<f64>,
        counts: [usize; 5],
    },
    Choice {
        counts: Vec<(String, usize)>,
    },
    Text {
        answers: Vec<String>,
    },
}

pub fn summarise(questions: &[Question], answers: &[Vec<Option<String>>]) -> Vec<Summary> {
    questions
        .iter()
        .enumerate()
        .map(|(i, question)| {
            let values: Vec<&str> = answers
                .iter()
                .filter_map(|a| a.get(i).and_then(|v| v.as_deref()))
                .filter(|v| question.accepts(v))
                .collect();
            match question {
                Question::Scale { .. } => {
                    let mut counts = [0; 5];
                    for v in &values {
                        if let Ok(n) = v.parse::<usize>() {
                            counts[n - 1] += 1;
                        }
                    }
                    let total: usize = counts.iter().sum();
                    #[allow(clippy::cast_precision_loss)]
                    let average = (total > 0).then(|| {
                        counts
                            .iter()
                            .enumerate()
                            .map(|(k, c)| (k + 1) * c)
                            .sum::<usize>() as f64
                            / total as f64
                    });
                    Summary::Scale { average, counts }
                }
                Question::Choice { options, .. } => Summary::Choice {
                    counts: options
                        .iter()
                        .map(|o| {
                            (
                                o.clone(),
                                values.iter().filter(|v| **v == o.as_str()).count(),
                            )
                        })
                        .collect(),
                },
                Question::Text { .. } => Summary::Text {
                    answers: values
                        .iter()
                        .filter(|v| !v.trim().is_empty())
                        .map(|v| (*v).to_owned())
                        .collect(),
                },
            }
        })
        .collect()
}

/// A survey's `every`, normalised to the one-line schedule stored: `monthly` (the 1st, 10:00),
/// `quarterly` (January, April, July, October), or any schedule of [`Schedule::from_text`].
///
/// [`Schedule::from_text`]: crate::domain::schedule::Schedule::from_text
pub fn normalise_every(text: &str) -> Result<String, String> {
    let text = text.trim().to_lowercase();
    let normalised = match text.as_str() {
        "monthly" => "cron 0 10 1 * *".to_owned(),
        "quarterly" => "cron 0 10 1 1,4,7,10 *".to_owned(),
        _ => text,
    };
    crate::domain::schedule::Schedule::from_text(&normalised)?;
    Ok(normalised)
}

/// The key under which a member's answer to one wave is stored: a hash of the wave's random
/// salt and the member, so a second answer replaces the first while no row names the member.
/// The salt is deleted when the wave closes; from then on the key leads to nobody.
pub fn respondent_key(wave_salt: &str, user_id: u64) -> String {
    let digest = Sha256::digest(format!("{wave_salt}:{user_id}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nps_at_the_edges() {
        let all_tens = Nps::of(&[10; 20]);
        assert_eq!(all_tens.score(), Some(100.0));
        assert_eq!(all_tens.margin_of_error(), Some(0.0));
        let all_zeros = Nps::of(&[0; 7]);
        assert_eq!(all_zeros.score(), Some(-100.0));
        assert_eq!(all_zeros.margin_of_error(), Some(0.0));
        let none = Nps::of(&[]);
        assert_eq!((none.score(), none.margin_of_error()), (None, None));
        assert_eq!(none.shown(), "no answers yet");
        let passives = Nps::of(&[7, 8, 7, 8]);
        assert_eq!(passives.score(), Some(0.0));
    }

    #[test]
    fn nps_and_its_margin_of_error_on_a_mixed_wave() {
        // 5 promoters, 3 passives, 2 detractors: NPS 30.
        let nps = Nps::of(&[10, 9, 9, 10, 9, 8, 7, 7, 6, 0]);
        assert_eq!((nps.promoters, nps.passives, nps.detractors), (5, 3, 2));
        assert!((nps.score().unwrap() - 30.0).abs() < 1e-9);
        // √((0.5 + 0.2 − 0.09) / 10) × 1.96 × 100 = 48.4
        assert!((nps.margin_of_error().unwrap() - 48.41).abs() < 0.01);
        assert_eq!(nps.shown(), "+30 ± 48");
    }

    #[test]
    fn segments_under_five_answers_are_hidden_and_rates_need_someone_reached() {
        assert_eq!(segment(&[10, 9, 0, 5]), None);
        assert_eq!(segment(&[10, 9, 0, 5, 8]).map(|n| n.responses), Some(5));
        assert_eq!(response_rate(3, 0), None);
        assert_eq!(response_rate(3, 12), Some(0.25));
    }

    #[test]
    fn custom_questions_are_read_checked_and_summarised() {
        let questions = parse_questions(&[
            "scale: How was onboarding?",
            "choice: Which day? | Mon | Wed | Fri",
            "text: Anything else?",
        ])
        .unwrap();
        assert_eq!(
            questions[1],
            Question::Choice {
                text: "Which day?".into(),
                options: vec!["Mon".into(), "Wed".into(), "Fri".into()]
            }
        );
        assert!(parse_questions(&["rating: x"]).is_err());
        assert!(parse_questions(&["choice: Only one | A"]).is_err());
        assert!(
            parse_questions(&["scale: a", "scale: b", "scale: c", "scale: d", "scale: e"]).is_err(),
            "5 menus"
        );
        assert!(parse_questions(&[]).is_err());
        let a = |s: &str, c: &str, t: &str| {
            vec![Some(s.to_owned()), Some(c.to_owned()), Some(t.to_owned())]
        };
        let summary = summarise(
            &questions,
            &[
                a("5", "Wed", "Great"),
                a("4", "Wed", ""),
                vec![Some("9".into()), None, None],
            ],
        );
        assert_eq!(
            summary[0],
            Summary::Scale {
                average: Some(4.5),
                counts: [0, 0, 0, 1, 1]
            },
            "9 is no answer to a 1-5 scale"
        );
        assert_eq!(
            summary[1],
            Summary::Choice {
                counts: vec![("Mon".into(), 0), ("Wed".into(), 2), ("Fri".into(), 0)]
            }
        );
        assert_eq!(
            summary[2],
            Summary::Text {
                answers: vec!["Great".into()]
            }
        );
    }

    #[test]
    fn every_reads_monthly_quarterly_and_the_prompts_grammar() {
        assert_eq!(
            normalise_every("Quarterly"),
            Ok("cron 0 10 1 1,4,7,10 *".to_owned())
        );
        assert_eq!(normalise_every("monthly"), Ok("cron 0 10 1 * *".to_owned()));
        assert_eq!(normalise_every("fri 17:00"), Ok("fri 17:00".to_owned()));
        assert!(normalise_every("sometimes").is_err());
    }

    #[test]
    fn a_respondent_key_is_stable_per_wave_and_names_nobody() {
        let key = respondent_key("salt-a", 123_456_789);
        assert_eq!(key, respondent_key("salt-a", 123_456_789));
        assert_ne!(key, respondent_key("salt-b", 123_456_789));
        assert!(!key.contains("123456789"));
        assert_eq!(key.len(), 64);
    }
}
