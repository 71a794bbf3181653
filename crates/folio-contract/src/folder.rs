//! The `folder` parameter (spec §3.5).

use std::fmt;

use crate::error::ParamError;
use crate::field;
use crate::file_name::is_letter_mark_or_number;

/// A normalised folder: zero (root) to [`Folder::MAX_DEPTH`] non-empty segments, each made
/// only of Unicode letters, marks, numerals, `_` and `-`, at most
/// [`Folder::MAX_SEGMENT_BYTES`] bytes long.
///
/// The segments are private so a `Folder` can only come from [`Folder::parse`] (or
/// [`Folder::root`] and the derived folders below), which means every `Folder` is valid.
/// In particular no segment can be `.` or `..` (`.` is not an allowed character), so paths built
/// from it cannot climb out of the library.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Folder {
    segments: Vec<String>,
}

/// Whether a folder character survives sanitising. `/` is handled as the separator before this
/// is consulted.
fn is_folder_char(c: char) -> bool {
    c == '_' || c == '-' || is_letter_mark_or_number(c)
}

impl Folder {
    /// Maximum nesting depth (number of non-empty segments).
    pub const MAX_DEPTH: usize = 50;
    /// Maximum length of one segment in UTF-8 bytes, after sanitising (our choice, spec Q36).
    pub const MAX_SEGMENT_BYTES: usize = 255;

    /// The root folder `/`.
    pub fn root() -> Self {
        Folder::default()
    }

    /// Parses and normalises a `folder` value.
    ///
    /// Disallowed characters become `_` (one per character); `/` separates levels, with leading,
    /// trailing and repeated `/` ignored; empty or `/` is the root. More than
    /// [`Folder::MAX_DEPTH`] levels, or a segment longer than [`Folder::MAX_SEGMENT_BYTES`] bytes
    /// after sanitising, is `Invalid("folder")`.
    ///
    /// ```
    /// use folio_contract::Folder;
    /// assert_eq!(Folder::parse("//images//folder/")?.path(), "/images/folder/");
    /// assert_eq!(Folder::parse("a//b/")?.file_path("x.jpg"), "/a/b/x.jpg");
    /// assert_eq!(Folder::parse("../secret")?.path(), "/__/secret/");
    /// assert!(Folder::parse("/")?.is_root());
    /// # Ok::<(), folio_contract::ParamError>(())
    /// ```
    pub fn parse(raw: &str) -> Result<Self, ParamError> {
        let mut segments = Vec::new();
        for piece in raw.split('/').filter(|piece| !piece.is_empty()) {
            // Fail as soon as the limit is crossed so a hostile value with millions of `/a`
            // does not make us allocate millions of segments first.
            if segments.len() == Self::MAX_DEPTH {
                return Err(ParamError::Invalid(field::FOLDER));
            }
            let segment: String = piece
                .chars()
                .map(|c| if is_folder_char(c) { c } else { '_' })
                .collect();
            if segment.len() > Self::MAX_SEGMENT_BYTES {
                return Err(ParamError::Invalid(field::FOLDER));
            }
            segments.push(segment);
        }
        Ok(Folder { segments })
    }

    /// Whether this is the root folder.
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// The segments from the top down; empty for the root.
    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    /// Nesting depth: 0 for the root.
    pub fn depth(&self) -> usize {
        self.segments.len()
    }

    /// The last segment (the folder's own name); `None` for the root.
    pub fn name(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// The containing folder; `None` for the root.
    pub fn parent(&self) -> Option<Folder> {
        let (_, parent) = self.segments.split_last()?;
        Some(Folder {
            segments: parent.to_vec(),
        })
    }

    /// The folder path in the form the API returns it: `/` for the root, otherwise `/a/b/`
    /// (leading and trailing slash).
    pub fn path(&self) -> String {
        let mut path = String::from("/");
        for segment in &self.segments {
            path.push_str(segment);
            path.push('/');
        }
        path
    }

    /// The `filePath` of a file called `name` in this folder: `/a/b/name`, or `/name` at the
    /// root. `name` should be a sanitised file name (it is not checked here).
    pub fn file_path(&self, name: &str) -> String {
        let mut path = self.path();
        path.push_str(name);
        path
    }

    /// Every folder on the way down to this one, top first and including this one, excluding
    /// the root: for `/a/b/c/` that is `/a/`, `/a/b/`, `/a/b/c/`. These are the folders that
    /// must exist (and are created implicitly when missing) before a file is stored here.
    ///
    /// ```
    /// use folio_contract::Folder;
    /// let paths: Vec<String> = Folder::parse("a/b/c")?.ancestors().map(|f| f.path()).collect();
    /// assert_eq!(paths, ["/a/", "/a/b/", "/a/b/c/"]);
    /// assert_eq!(Folder::root().ancestors().count(), 0);
    /// # Ok::<(), folio_contract::ParamError>(())
    /// ```
    pub fn ancestors(&self) -> impl Iterator<Item = Folder> + '_ {
        (1..=self.segments.len()).map(move |depth| Folder {
            segments: self.segments.iter().take(depth).cloned().collect(),
        })
    }
}

impl fmt::Display for Folder {
    /// Same text as [`Folder::path`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path_of(raw: &str) -> String {
        match Folder::parse(raw) {
            Ok(folder) => folder.path(),
            Err(e) => panic!("{raw:?} rejected: {e}"),
        }
    }

    #[test]
    fn spec_normalisation_examples() {
        // Spec §3.5: these three mean the same folder.
        assert_eq!(path_of("images/folder"), "/images/folder/");
        assert_eq!(path_of("/images/folder/"), "/images/folder/");
        assert_eq!(path_of("//images//folder/"), "/images/folder/");
        // Appendix A item 11.
        assert_eq!(path_of("a//b/"), "/a/b/");
    }

    #[test]
    fn root_forms() {
        for raw in ["", "/", "//", "///"] {
            let folder = Folder::parse(raw);
            assert_eq!(folder, Ok(Folder::root()), "{raw:?}");
        }
        assert_eq!(Folder::root().path(), "/");
        assert_eq!(Folder::root().file_path("x.jpg"), "/x.jpg");
        assert_eq!(Folder::root().name(), None);
        assert_eq!(Folder::root().parent(), None);
        assert_eq!(Folder::root().depth(), 0);
    }

    #[test]
    fn file_path_spec_example() {
        let folder = Folder::parse("products/summer");
        assert_eq!(
            folder.map(|f| f.file_path("dress_Kp3x9QzLm.jpg")),
            Ok("/products/summer/dress_Kp3x9QzLm.jpg".to_string())
        );
    }

    #[test]
    fn disallowed_characters_become_underscores() {
        assert_eq!(path_of("a.b"), "/a_b/");
        assert_eq!(path_of(".."), "/__/");
        assert_eq!(path_of("../../etc"), "/__/__/etc/");
        assert_eq!(path_of("my folder"), "/my_folder/");
        assert_eq!(path_of("a\\b"), "/a_b/");
        assert_eq!(path_of("x😀y"), "/x_y/");
        assert_eq!(path_of("a_b-c"), "/a_b-c/");
        assert_eq!(path_of("Ünïcödé/日本/٣"), "/Ünïcödé/日本/٣/");
        // Case is preserved (paths are case-sensitive).
        assert_eq!(path_of("Images"), "/Images/");
    }

    #[test]
    fn depth_limit_fifty() {
        let fifty = vec!["d"; 50].join("/");
        assert_eq!(Folder::parse(&fifty).map(|f| f.depth()), Ok(50));
        // Slashes around and between do not count as levels.
        assert_eq!(
            Folder::parse(&format!("//{}//", vec!["d"; 50].join("//"))).map(|f| f.depth()),
            Ok(50)
        );
        // Appendix A item 11: 51 levels.
        let fifty_one = vec!["d"; 51].join("/");
        assert_eq!(
            Folder::parse(&fifty_one),
            Err(ParamError::Invalid("folder"))
        );
        let huge = "/a".repeat(100_000);
        assert_eq!(Folder::parse(&huge), Err(ParamError::Invalid("folder")));
    }

    #[test]
    fn segment_byte_limit() {
        let ok = "a".repeat(255);
        assert_eq!(Folder::parse(&ok).map(|f| f.depth()), Ok(1));
        assert_eq!(
            Folder::parse(&"a".repeat(256)),
            Err(ParamError::Invalid("folder"))
        );
        // 128 × 'é' = 256 bytes.
        assert_eq!(
            Folder::parse(&format!("ok/{}", "é".repeat(128))),
            Err(ParamError::Invalid("folder"))
        );
        // 255 emoji are 1020 input bytes, but sanitise to 255 bytes of `_`.
        assert_eq!(Folder::parse(&"😀".repeat(255)).map(|f| f.depth()), Ok(1));
    }

    #[test]
    fn accessors() -> Result<(), ParamError> {
        let folder = Folder::parse("/a/b/c/")?;
        assert_eq!(folder.segments(), ["a", "b", "c"]);
        assert_eq!(folder.name(), Some("c"));
        assert_eq!(folder.parent().map(|p| p.path()), Some("/a/b/".to_string()));
        assert_eq!(folder.to_string(), "/a/b/c/");
        let ancestors: Vec<String> = folder.ancestors().map(|f| f.path()).collect();
        assert_eq!(ancestors, ["/a/", "/a/b/", "/a/b/c/"]);
        Ok(())
    }

    #[test]
    fn path_round_trips() -> Result<(), ParamError> {
        let folder = Folder::parse("x/ y /z")?;
        assert_eq!(Folder::parse(&folder.path())?, folder);
        Ok(())
    }
}
