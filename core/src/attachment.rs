//! Attachments (附件) an order carries: a handler's evidence for a reply, a citizen's photo
//! an operator received. What may be stored is judged here, on the bytes and the name as
//! sent: the type from the file's own first bytes (never the name or a header a client
//! chose), the name cut to its last path part and bounded, the size and the count bounded.

use std::path::PathBuf;

/// The timeline entry an upload leaves on its order (beside the contract's event types,
/// like the calendar's `sla.recomputed`).
pub const ATTACHED: &str = "attachment.added";

/// The `media_type` of a call recording's reference (通话录音编号): a row with no file.
pub const RECORDING: &str = "recording";

/// The longest recording reference, in characters.
pub const MAX_REFERENCE_CHARS: usize = 100;

/// The longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// `[attachments]`: where files are kept and how many, how large.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachmentSettings {
    pub location: StoreLocation,
    /// The largest file accepted, in bytes.
    pub max_bytes: usize,
    /// The most files one order holds.
    pub per_order: u32,
}

impl Default for AttachmentSettings {
    fn default() -> Self {
        AttachmentSettings {
            location: StoreLocation::Directory(PathBuf::from("attachments")),
            max_bytes: 10 * 1024 * 1024,
            per_order: 30,
        }
    }
}

/// Where the files live: a directory of this machine (the embedded default, fine for one
/// engine host) or an S3-compatible bucket (for several hosts; credentials from the
/// standard `AWS_*` environment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    Directory(PathBuf),
    S3 { bucket: String, prefix: String },
}

impl StoreLocation {
    /// `s3://bucket[/prefix]`, `file:///absolute/path`, or a path (relative to the engine's
    /// working directory).
    pub fn parse(text: &str) -> Result<StoreLocation, String> {
        let text = text.trim();
        if let Some(rest) = text.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            let bucket_ok = (3..=63).contains(&bucket.len())
                && bucket.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.'
                });
            if !bucket_ok {
                return Err(format!(
                    "`{text}`: an S3 bucket name is 3-63 of a-z, 0-9, '-' and '.'"
                ));
            }
            return Ok(StoreLocation::S3 {
                bucket: bucket.to_owned(),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        let path = match text.strip_prefix("file://") {
            Some(path) if path.starts_with('/') => path,
            Some(_) => {
                return Err(format!(
                    "`{text}`: a file URL names an absolute path (file:///…)"
                ));
            }
            None if text.contains("://") => {
                return Err(format!(
                    "`{text}`: a directory, file:///path or s3://bucket/prefix"
                ));
            }
            None => text,
        };
        if path.is_empty() || path.contains('\0') {
            return Err("the attachments' location is empty".to_owned());
        }
        Ok(StoreLocation::Directory(PathBuf::from(path)))
    }
}

hotline_schema::named_enum! {
    /// The kinds of file an order may carry: photos and documents, each told by its own
    /// first bytes.
    pub enum MediaType("media type") {
        Jpeg = "image/jpeg",
        Png = "image/png",
        Webp = "image/webp",
        Pdf = "application/pdf",
    }
}

impl MediaType {
    /// The type the bytes are, if one of those accepted.
    pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(MediaType::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(MediaType::Png)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(MediaType::Webp)
        } else if bytes.starts_with(b"%PDF-") {
            Some(MediaType::Pdf)
        } else {
            None
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            MediaType::Jpeg => "jpg",
            MediaType::Png => "png",
            MediaType::Webp => "webp",
            MediaType::Pdf => "pdf",
        }
    }

    /// In words for a page.
    pub fn label(self) -> &'static str {
        match self {
            MediaType::Jpeg | MediaType::Png | MediaType::Webp => "图片",
            MediaType::Pdf => "PDF 文档",
        }
    }
}

/// Why a file is not stored; each with the code the API answers and the words the pages show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttachmentFault {
    Empty,
    TooLarge,
    UnsupportedType,
    BadName,
    TooMany,
    /// A recording's reference that is not 1-100 of letters, digits and `._-:/#`.
    BadReference,
}

impl AttachmentFault {
    pub fn code(self) -> &'static str {
        match self {
            AttachmentFault::Empty => "empty_file",
            AttachmentFault::TooLarge => "too_large",
            AttachmentFault::UnsupportedType => "unsupported_media_type",
            AttachmentFault::BadName => "bad_file_name",
            AttachmentFault::TooMany => "too_many_attachments",
            AttachmentFault::BadReference => "bad_recording_reference",
        }
    }

    pub fn words(self, settings: &AttachmentSettings) -> String {
        match self {
            AttachmentFault::Empty => "没有选择文件,或文件是空的。".to_owned(),
            AttachmentFault::TooLarge => {
                format!(
                    "文件超过 {} 的上限。",
                    human_size(settings.max_bytes as u64)
                )
            }
            AttachmentFault::UnsupportedType => {
                "只能上传图片(JPEG、PNG、WebP)或 PDF 文档。".to_owned()
            }
            AttachmentFault::BadName => {
                format!("文件名不能含控制字符,且不超过 {MAX_NAME_CHARS} 个字。")
            }
            AttachmentFault::TooMany => {
                format!("每张工单最多 {} 个附件。", settings.per_order)
            }
            AttachmentFault::BadReference => {
                format!("录音编号应为 1-{MAX_REFERENCE_CHARS} 个字母、数字或 . _ - : / # 字符。")
            }
        }
    }
}

/// A file judged fit to keep: its type from its bytes and a name safe to show and to offer
/// for download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admitted {
    pub media_type: MediaType,
    pub name: String,
}

/// Judges a file as sent: `name` as the client gave it (a browser may send a whole path),
/// `bytes` whole. The count is checked where it is known (with the order locked).
pub fn admit(
    settings: &AttachmentSettings,
    name: &str,
    bytes: &[u8],
) -> Result<Admitted, AttachmentFault> {
    if bytes.is_empty() {
        return Err(AttachmentFault::Empty);
    }
    if bytes.len() > settings.max_bytes {
        return Err(AttachmentFault::TooLarge);
    }
    let media_type = MediaType::sniff(bytes).ok_or(AttachmentFault::UnsupportedType)?;
    Ok(Admitted {
        media_type,
        name: file_name(name, media_type)?,
    })
}

/// A call recording's reference as the call centre's recording system names it
/// (`REC-20261207-0001`, `cc07/2026/12/07/0815.wav`): trimmed, 1 to
/// [`MAX_REFERENCE_CHARS`] of ASCII letters, digits and `._-:/#`.
pub fn recording_reference(sent: &str) -> Result<String, AttachmentFault> {
    let reference = sent.trim();
    let fits = (1..=MAX_REFERENCE_CHARS).contains(&reference.len())
        && reference
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:/#".contains(&b));
    if fits {
        Ok(reference.to_owned())
    } else {
        Err(AttachmentFault::BadReference)
    }
}

/// The last part of a path as sent, trimmed; a default name when nothing is left.
fn file_name(sent: &str, media_type: MediaType) -> Result<String, AttachmentFault> {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    if last.chars().any(|c| c.is_control() || is_bidi_control(c)) {
        return Err(AttachmentFault::BadName);
    }
    if last.chars().count() > MAX_NAME_CHARS {
        return Err(AttachmentFault::BadName);
    }
    if last.is_empty() || last.chars().all(|c| c == '.') {
        return Ok(format!("附件.{}", media_type.extension()));
    }
    Ok(last.to_owned())
}

/// Characters that reorder what follows them on screen: a name could show `gpj.exe` as
/// `exe.jpg`.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
}

/// A size in words: `820 B`, `34.5 KB`, `10 MB`.
pub fn human_size(bytes: u64) -> String {
    const KB: f64 = 1024.0;
    let b = bytes as f64;
    if b < KB {
        format!("{bytes} B")
    } else if b < KB * KB {
        trim_point(format!("{:.1}", b / KB)) + " KB"
    } else {
        trim_point(format!("{:.1}", b / KB / KB)) + " MB"
    }
}

fn trim_point(text: String) -> String {
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn a_file_is_judged_by_its_bytes_its_name_and_its_size() {
        let settings = AttachmentSettings {
            max_bytes: 64,
            ..AttachmentSettings::default()
        };
        let webp = b"RIFF\x10\0\0\0WEBPVP8 ";
        type Judged = Result<(MediaType, &'static str), AttachmentFault>;
        let cases: &[(&str, &[u8], Judged)] = &[
            ("现场.png", PNG, Ok((MediaType::Png, "现场.png"))),
            (
                "C:\\Users\\张\\照片.jpg",
                b"\xFF\xD8\xFF\xE0rest",
                Ok((MediaType::Jpeg, "照片.jpg")),
            ),
            (
                "../../etc/passwd",
                b"%PDF-1.7\n",
                Ok((MediaType::Pdf, "passwd")),
            ),
            ("a.webp", webp, Ok((MediaType::Webp, "a.webp"))),
            // The name says PNG, the bytes say PDF: the bytes decide.
            ("look.png", b"%PDF-1.4", Ok((MediaType::Pdf, "look.png"))),
            ("", PNG, Ok((MediaType::Png, "附件.png"))),
            ("dir/", PNG, Ok((MediaType::Png, "附件.png"))),
            ("..", PNG, Ok((MediaType::Png, "附件.png"))),
            ("x.png", b"", Err(AttachmentFault::Empty)),
            (
                "x.html",
                b"<html><script>",
                Err(AttachmentFault::UnsupportedType),
            ),
            ("x.exe", b"MZ\x90\0", Err(AttachmentFault::UnsupportedType)),
            (
                "RIFF.webp",
                b"RIFF\0\0\0\0WAVE",
                Err(AttachmentFault::UnsupportedType),
            ),
            ("big.png", &[0x89; 65], Err(AttachmentFault::TooLarge)),
            ("a\nb.png", PNG, Err(AttachmentFault::BadName)),
            ("gpj\u{202E}.exe", PNG, Err(AttachmentFault::BadName)),
        ];
        for (name, bytes, want) in cases {
            let got = admit(&settings, name, bytes).map(|a| (a.media_type, a.name));
            let want = want.map(|(t, n)| (t, n.to_owned()));
            assert_eq!(got, want, "{name:?}");
        }
        let long = "名".repeat(MAX_NAME_CHARS);
        assert!(admit(&settings, &long, PNG).is_ok());
        assert_eq!(
            admit(&settings, &format!("{long}x"), PNG),
            Err(AttachmentFault::BadName)
        );
        let exactly = vec![0xFF, 0xD8, 0xFF]
            .into_iter()
            .chain([0; 61])
            .collect::<Vec<u8>>();
        assert!(admit(&settings, "max.jpg", &exactly).is_ok());
    }

    #[test]
    fn a_recording_reference_is_a_short_plain_identifier() {
        let long = "R".repeat(MAX_REFERENCE_CHARS);
        let cases = [
            (" REC-20261207-0001 ", Ok("REC-20261207-0001")),
            ("cc07/2026/12/07/0815.wav", Ok("cc07/2026/12/07/0815.wav")),
            ("call:12345#2", Ok("call:12345#2")),
            (long.as_str(), Ok(long.as_str())),
            ("", Err(AttachmentFault::BadReference)),
            ("REC 0001", Err(AttachmentFault::BadReference)),
            ("录音0001", Err(AttachmentFault::BadReference)),
            ("<script>", Err(AttachmentFault::BadReference)),
        ];
        for (sent, want) in cases {
            assert_eq!(
                recording_reference(sent),
                want.map(str::to_owned),
                "{sent:?}"
            );
        }
        assert!(recording_reference(&format!("{long}R")).is_err());
    }

    #[test]
    fn a_location_is_a_directory_a_file_url_or_a_bucket() {
        let cases = [
            (
                "attachments",
                Ok(StoreLocation::Directory("attachments".into())),
            ),
            (
                "/var/lib/hotline/files",
                Ok(StoreLocation::Directory("/var/lib/hotline/files".into())),
            ),
            (
                "file:///srv/a",
                Ok(StoreLocation::Directory("/srv/a".into())),
            ),
            (
                "s3://hotline-files/prod/",
                Ok(StoreLocation::S3 {
                    bucket: "hotline-files".into(),
                    prefix: "prod".into(),
                }),
            ),
            (
                "s3://abc",
                Ok(StoreLocation::S3 {
                    bucket: "abc".into(),
                    prefix: String::new(),
                }),
            ),
            ("s3://A_B/x", Err(())),
            ("file://relative", Err(())),
            ("http://example.org/x", Err(())),
            ("", Err(())),
        ];
        for (text, want) in cases {
            assert_eq!(StoreLocation::parse(text).map_err(|_| ()), want, "{text}");
        }
    }

    #[test]
    fn sizes_read_in_words_and_every_fault_has_a_code_and_chinese_words() {
        for (bytes, words) in [
            (820, "820 B"),
            (35_328, "34.5 KB"),
            (10 * 1024 * 1024, "10 MB"),
            (1024, "1 KB"),
        ] {
            assert_eq!(human_size(bytes), words);
        }
        let settings = AttachmentSettings::default();
        for fault in [
            AttachmentFault::BadReference,
            AttachmentFault::Empty,
            AttachmentFault::TooLarge,
            AttachmentFault::UnsupportedType,
            AttachmentFault::BadName,
            AttachmentFault::TooMany,
        ] {
            assert!(fault.code().is_ascii());
            assert!(!fault.words(&settings).is_ascii());
        }
        assert_eq!(
            AttachmentFault::TooLarge.words(&settings),
            "文件超过 10 MB 的上限。"
        );
    }
}
