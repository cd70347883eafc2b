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
