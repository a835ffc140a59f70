//! The `resume` parameter of a connection's URL query (Step 11; README,
//! "Resume"): the same in every dialect, WebSocket and socket.io alike.

/// What a client asks for with `resume=` in its URL's query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResumeAsk {
    /// `resume=1`: make the session resumable; its first message carries a
    /// token ([`crate::codec::Codec::offer_resume`]).
    OptIn,
    /// `resume=<token>`: take up the held session the token names.
    Token(String),
}

/// A `resume` parameter switchboard cannot read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ResumeQueryError {
    /// Given twice, or with an empty value.
    #[error("resume= must be given once, as 1 or a resume token")]
    Malformed,
    /// Not percent-encoded UTF-8.
    #[error("resume is not percent-encoded UTF-8")]
    Encoding,
}

impl ResumeAsk {
    /// The `resume` parameter of a URL query (form-urlencoded, as
    /// [`crate::ecall::DeviceQuery::parse`] reads it); `Ok(None)` without
    /// one. Other keys are ignored.
    ///
    /// # Errors
    /// [`ResumeQueryError`] for a parameter given twice, empty, or not UTF-8.
    pub fn from_query(query: &str) -> Result<Option<Self>, ResumeQueryError> {
        let mut found = None;
        for pair in query.split('&') {
            let Some(value) = pair.strip_prefix("resume=") else { continue };
            let value = form_decode(value).ok_or(ResumeQueryError::Encoding)?;
            if found.is_some() || value.is_empty() {
                return Err(ResumeQueryError::Malformed);
            }
            found = Some(if value == "1" { ResumeAsk::OptIn } else { ResumeAsk::Token(value) });
        }
        Ok(found)
    }
}

/// One form-urlencoded value, or `None` when its bytes are not UTF-8.
pub(crate) fn form_decode(value: &str) -> Option<String> {
    let spaced = value.replace('+', " ");
    let decoded = percent_encoding::percent_decode_str(&spaced).decode_utf8().ok()?;
    Some(decoded.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_resume_parameter() {
        assert_eq!(ResumeAsk::from_query(""), Ok(None));
        assert_eq!(ResumeAsk::from_query("user=a&client=b"), Ok(None));
        assert_eq!(ResumeAsk::from_query("resume=1"), Ok(Some(ResumeAsk::OptIn)));
        assert_eq!(ResumeAsk::from_query("x=1&resume=ab-c_d"), Ok(Some(ResumeAsk::Token("ab-c_d".into()))));
        assert_eq!(ResumeAsk::from_query("resume=n1.a%2Eb"), Ok(Some(ResumeAsk::Token("n1.a.b".into()))));
        assert_eq!(ResumeAsk::from_query("resume="), Err(ResumeQueryError::Malformed));
        assert_eq!(ResumeAsk::from_query("resume=1&resume=1"), Err(ResumeQueryError::Malformed));
        assert_eq!(ResumeAsk::from_query("resume=%FF"), Err(ResumeQueryError::Encoding));
        // A key that only ends in "resume" is another key.
        assert_eq!(ResumeAsk::from_query("noresume=1"), Ok(None));
    }
}
