-- Post-event feedback (§9) runs on the survey engine (§10): an event's feedback is a custom
-- survey (a 1-5 scale and a comment) with one wave for the event's attendees.
ALTER TABLE surveys ADD COLUMN event_id INTEGER REFERENCES events (id) ON DELETE CASCADE;
CREATE UNIQUE INDEX surveys_event ON surveys (event_id) WHERE event_id IS NOT NULL;
-- A wave that closes by itself (an event's, 72 hours after its end); NULL: closed by a manager
-- or by the next wave.
ALTER TABLE survey_waves ADD COLUMN closes_at INTEGER;
-- A respondent who chose to put their name to their answer: the one link from a member to an
-- answer, made by the member's choice (NULL for a contact request without it).
ALTER TABLE survey_contacts ADD COLUMN respondent_key TEXT;

-- Earlier ratings move over: each rated event gets its survey and a closed wave; an answer's key
-- is random (the wave is closed: nobody can trace it), a signed one keeps its author.
INSERT INTO surveys (guild_id, kind, title, questions, channel_id, created_by, created_at, event_id)
SELECT e.guild_id, 'event', e.title,
       '[{"kind":"scale","text":"How was it?"},{"kind":"text","text":"Anything to add?"}]',
       e.card_channel_id, e.created_by, e.end_at, e.id
FROM events e WHERE EXISTS (SELECT 1 FROM event_feedback f WHERE f.event_id = e.id);
INSERT INTO survey_waves (survey_id, number, opened_at, closed_at, closes_at, reached)
SELECT s.id, 1, s.created_at, s.created_at + 259200, s.created_at + 259200,
       (SELECT COUNT(*) FROM event_feedback f WHERE f.event_id = s.event_id)
FROM surveys s WHERE s.kind = 'event';
INSERT INTO survey_answers (wave_id, respondent_key, answers, newcomer, answered_day)
SELECT w.id,
       CASE WHEN f.anonymous = 0 THEN 'signed:' || f.user_id ELSE 'moved:' || hex(randomblob(16)) END,
       json_array(CAST(f.score AS TEXT), f.comment), 0, f.answered_at / 86400
FROM event_feedback f JOIN surveys s ON s.event_id = f.event_id
JOIN survey_waves w ON w.survey_id = s.id;
INSERT INTO survey_contacts (wave_id, user_id, respondent_key)
SELECT w.id, f.user_id, 'signed:' || f.user_id
FROM event_feedback f JOIN surveys s ON s.event_id = f.event_id
JOIN survey_waves w ON w.survey_id = s.id
WHERE f.anonymous = 0;
DROP TABLE event_feedback;
