//! Internal notes (内部备注) on an order: what a unit's own staff write for each other (who
//! was called, what to check tomorrow), never shown to another department, to the citizen
//! or in the timeline. What a note may hold is judged here.

/// The longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 1000;

/// The most notes one unit keeps on one order.
pub const NOTES_PER_ORDER: i64 = 200;

/// A note's text: not blank, at most [`MAX_NOTE_CHARS`], no control characters but line
/// breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteText(String);

/// Why a note is refused, with its code and its words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteFault {
    Blank,
    TooLong,
    ControlCharacter,
}

impl NoteFault {
    pub fn code(self) -> &'static str {
        match self {
            NoteFault::Blank => "blank_note",
            NoteFault::TooLong => "note_too_long",
            NoteFault::ControlCharacter => "bad_note",
        }
    }

    pub fn words(self) -> String {
        match self {
            NoteFault::Blank => "备注不能为空。".to_owned(),
            NoteFault::TooLong => format!("备注不能超过 {MAX_NOTE_CHARS} 个字。"),
            NoteFault::ControlCharacter => "备注含有不能保存的控制字符。".to_owned(),
        }
    }
}

impl NoteText {
    pub fn parse(text: &str) -> Result<NoteText, NoteFault> {
        let text = text.trim();
        if text.is_empty() {
            return Err(NoteFault::Blank);
        }
        if text.chars().count() > MAX_NOTE_CHARS {
            return Err(NoteFault::TooLong);
        }
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(NoteFault::ControlCharacter);
        }
        Ok(NoteText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_note_is_trimmed_not_blank_bounded_and_free_of_control_characters() {
        let long = "记".repeat(MAX_NOTE_CHARS);
        let cases = [
            ("  已电话联系商户,明早复查  ", Ok("已电话联系商户,明早复查")),
            ("第一行\n第二行\t缩进", Ok("第一行\n第二行\t缩进")),
            (long.as_str(), Ok(long.as_str())),
            ("", Err(NoteFault::Blank)),
            (" \n\t ", Err(NoteFault::Blank)),
            ("a\0b", Err(NoteFault::ControlCharacter)),
            ("bell\u{7}", Err(NoteFault::ControlCharacter)),
        ];
        for (text, want) in cases {
            let got = NoteText::parse(text);
            assert_eq!(
                got.as_ref().map(NoteText::as_str).map_err(|f| *f),
                want,
                "{text:?}"
            );
        }
        assert_eq!(
            NoteText::parse(&format!("{long}记")),
            Err(NoteFault::TooLong)
        );
        for fault in [
            NoteFault::Blank,
            NoteFault::TooLong,
            NoteFault::ControlCharacter,
        ] {
            assert!(fault.code().is_ascii() && !fault.words().is_ascii());
        }
    }
}
