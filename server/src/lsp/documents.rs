//! Open documents: text kept in `ropey` ropes, changed by full or incremental sync. LSP
//! positions count UTF-16 code units; ropes count characters; this module converts
//! between them. A position past the end of its line or of the text is clamped, as the
//! protocol says, so no client input can make an edit panic.

use std::collections::HashMap;

use ropey::Rope;
use tower_lsp::ls_types::{Position, Range, TextDocumentContentChangeEvent, Uri};

/// One open document.
#[derive(Debug, Clone)]
pub struct Document {
    pub rope: Rope,
    pub version: i32,
}

impl Document {
    pub fn new(text: &str, version: i32) -> Document {
        Document { rope: Rope::from_str(text), version }
    }

    pub fn text(&self) -> String {
        self.rope.to_string()
    }

    /// Applies the changes of one `didChange`, in order.
    pub fn apply(&mut self, changes: &[TextDocumentContentChangeEvent], version: i32) {
        for change in changes {
            match change.range {
                None => self.rope = Rope::from_str(&change.text),
                Some(range) => {
                    let start = self.char_index(range.start);
                    let end = self.char_index(range.end).max(start);
                    self.rope.remove(start..end);
                    self.rope.insert(start, &change.text);
                }
            }
        }
        self.version = version;
    }

    /// The character index of an LSP position, clamped to its line and to the text.
    pub fn char_index(&self, position: Position) -> usize {
        let rope = &self.rope;
        let line = position.line as usize;
        if line >= rope.len_lines() {
            return rope.len_chars();
        }
        let line_start = rope.line_to_char(line);
        let line_end = line_start + line_content_len(rope.line(line));
        let start_cu = rope.char_to_utf16_cu(line_start);
        let wanted_cu = start_cu + position.character as usize;
        let end_cu = rope.char_to_utf16_cu(line_end);
        // A position inside a surrogate pair lands on the character it splits.
        rope.utf16_cu_to_char(wanted_cu.min(end_cu)).clamp(line_start, line_end)
    }

    /// The LSP position of a character index.
    pub fn position(&self, char_index: usize) -> Position {
        let rope = &self.rope;
        let index = char_index.min(rope.len_chars());
        let line = rope.char_to_line(index);
        let line_start = rope.line_to_char(line);
        let character = rope.char_to_utf16_cu(index) - rope.char_to_utf16_cu(line_start);
        Position::new(line as u32, character as u32)
    }

    /// The text of line `line` without its line break ("" past the end).
    pub fn line(&self, line: u32) -> String {
        if (line as usize) >= self.rope.len_lines() {
            return String::new();
        }
        let text = self.rope.line(line as usize);
        text.slice(..line_content_len(text)).to_string()
    }

    /// The range of the whole text.
    pub fn full_range(&self) -> Range {
        Range::new(Position::new(0, 0), self.position(self.rope.len_chars()))
    }
}

/// Characters of a line before its line break.
fn line_content_len(line: ropey::RopeSlice<'_>) -> usize {
    let mut len = line.len_chars();
    while len > 0 && matches!(line.char(len - 1), '\n' | '\r') {
        len -= 1;
    }
    len
}

/// The open documents by URI.
#[derive(Debug, Default)]
pub struct Documents {
    open: HashMap<Uri, Document>,
}

impl Documents {
    pub fn open(&mut self, uri: Uri, text: &str, version: i32) {
        self.open.insert(uri, Document::new(text, version));
    }

    /// Applies a `didChange`; false when the document is not open (the change is dropped).
    pub fn change(&mut self, uri: &Uri, changes: &[TextDocumentContentChangeEvent], version: i32) -> bool {
        match self.open.get_mut(uri) {
            Some(document) => {
                document.apply(changes, version);
                true
            }
            None => false,
        }
    }

    pub fn close(&mut self, uri: &Uri) {
        self.open.remove(uri);
    }

    pub fn get(&self, uri: &Uri) -> Option<&Document> {
        self.open.get(uri)
    }

    pub fn uris(&self) -> impl Iterator<Item = &Uri> {
        self.open.keys()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(range: Option<((u32, u32), (u32, u32))>, text: &str) -> TextDocumentContentChangeEvent {
        TextDocumentContentChangeEvent {
            range: range.map(|((a, b), (c, d))| Range::new(Position::new(a, b), Position::new(c, d))),
            range_length: None,
            text: text.into(),
        }
    }

    #[test]
    fn utf16_positions_with_accents_emoji_and_cjk() {
        let mut doc = Document::new("é😀x\n漢字y\n", 1);
        // 😀 is two UTF-16 code units: character 3 is after it.
        assert_eq!(doc.char_index(Position::new(0, 3)), 2);
        assert_eq!(doc.position(2), Position::new(0, 3));
        doc.apply(&[change(Some(((0, 3), (0, 4))), "X")], 2);
        assert_eq!(doc.text(), "é😀X\n漢字y\n");
        doc.apply(&[change(Some(((1, 2), (1, 2))), "—")], 3);
        assert_eq!(doc.line(1), "漢字—y");
        assert_eq!(doc.version, 3);
    }

    #[test]
    fn out_of_range_positions_are_clamped() {
        let mut doc = Document::new("ab\ncd", 1);
        assert_eq!(doc.char_index(Position::new(0, 99)), 2, "end of line 0, before its break");
        assert_eq!(doc.char_index(Position::new(9, 0)), 5, "end of text");
        doc.apply(&[change(Some(((1, 1), (0, 1))), "Z")], 2);
        assert_eq!(doc.text(), "ab\ncZd", "a reversed range inserts at its start");
        doc.apply(&[change(None, "new")], 3);
        assert_eq!(doc.text(), "new");
        assert_eq!(doc.full_range(), Range::new(Position::new(0, 0), Position::new(0, 3)));
    }
}
