//! A small, strict HTML reader for the renderer's tests: the page as a tree, so that tests check
//! structure (which element holds which text) rather than whether a string occurs somewhere.
//!
//! Strict on purpose: every end tag must close the innermost open element (our template closes
//! every element but the void ones), so a broken page fails to parse. It knows void elements,
//! `/>`, comments, the doctype, raw-text `<style>`, quoted and bare attributes, and the entities
//! tera writes (`&lt; &gt; &amp; &quot; &#39;`, and any numeric one).

use std::collections::BTreeMap;

/// One element: its tag, attributes and children.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    pub tag: String,
    pub attrs: BTreeMap<String, String>,
    pub children: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
}

const VOID: [&str; 14] =
    ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"];

/// Parses a whole page; the root is a synthetic `#document` element. The doctype is kept as the
/// attribute `doctype` of the root.
pub fn parse(html: &str) -> Result<Element, String> {
    let mut stack = vec![Element { tag: "#document".into(), attrs: BTreeMap::new(), children: Vec::new() }];
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut stack, rest);
            break;
        };
        push_text(&mut stack, &rest[..lt]);
        rest = &rest[lt..];
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after.find("-->").ok_or("an unclosed comment")?;
            rest = &after[end + 3..];
        } else if let Some(after) = rest.strip_prefix("<!") {
            let end = after.find('>').ok_or("an unclosed doctype")?;
            stack[0].attrs.insert("doctype".into(), after[..end].trim().to_string());
            rest = &after[end + 1..];
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').ok_or("an unclosed end tag")?;
            let tag = after[..end].trim().to_ascii_lowercase();
            let open = stack.pop().ok_or("an end tag with nothing open")?;
            if open.tag != tag || stack.is_empty() {
                return Err(format!("</{tag}> closes <{}>", open.tag));
            }
            stack.last_mut().expect("the document").children.push(Node::Element(open));
            rest = &after[end + 1..];
        } else {
            let (element, self_closed, after) = start_tag(&rest[1..])?;
            rest = after;
            if element.tag == "style" || element.tag == "script" {
                let close = format!("</{}>", element.tag);
                let end = rest.find(&close).ok_or_else(|| format!("an unclosed <{}>", element.tag))?;
                let mut element = element;
                element.children.push(Node::Text(rest[..end].to_string()));
                rest = &rest[end + close.len()..];
                stack.last_mut().expect("the document").children.push(Node::Element(element));
            } else if self_closed || VOID.contains(&element.tag.as_str()) {
                stack.last_mut().expect("the document").children.push(Node::Element(element));
            } else {
                stack.push(element);
            }
        }
    }
    if stack.len() != 1 {
        return Err(format!("<{}> is never closed", stack.last().expect("open").tag));
    }
    Ok(stack.pop().expect("the document"))
}

fn push_text(stack: &mut [Element], raw: &str) {
    if !raw.is_empty() {
        stack.last_mut().expect("the document").children.push(Node::Text(decode(raw)));
    }
}

/// `tag attr="v" bare x=y>` → the element, whether it ended in `/>`, and the rest.
fn start_tag(s: &str) -> Result<(Element, bool, &str), String> {
    let name_end = s.find(|c: char| c.is_whitespace() || c == '>' || c == '/').ok_or("an unclosed start tag")?;
    let tag = s[..name_end].to_ascii_lowercase();
    if tag.is_empty() {
        return Err("a `<` that starts no tag".into());
    }
    let mut attrs = BTreeMap::new();
    let mut rest = &s[name_end..];
    loop {
        rest = rest.trim_start();
        if let Some(after) = rest.strip_prefix("/>") {
            return Ok((Element { tag, attrs, children: Vec::new() }, true, after));
        }
        if let Some(after) = rest.strip_prefix('>') {
            return Ok((Element { tag, attrs, children: Vec::new() }, false, after));
        }
        let end =
            rest.find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/').ok_or("an unclosed tag")?;
        if end == 0 {
            return Err(format!("a stray character in <{tag}>"));
        }
        let name = rest[..end].to_ascii_lowercase();
        rest = &rest[end..];
        let value = if let Some(after) = rest.strip_prefix('=') {
            let quote = after.chars().next().ok_or("an attribute without a value")?;
            if quote == '"' || quote == '\'' {
                let close = after[1..].find(quote).ok_or("an unclosed attribute value")?;
                rest = &after[close + 2..];
                decode(&after[1..close + 1])
            } else {
                let end = after.find(|c: char| c.is_whitespace() || c == '>').ok_or("an unclosed tag")?;
                rest = &after[end..];
                decode(&after[..end])
            }
        } else {
            String::new()
        };
        if attrs.insert(name.clone(), value).is_some() {
            return Err(format!("attribute {name} twice in <{tag}>"));
        }
    }
}

/// Decodes character references.
fn decode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let Some(semi) = rest.find(';').filter(|&i| i <= 10) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let name = &rest[1..semi];
        let ch = match name {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            "nbsp" => Some('\u{a0}'),
            _ => name
                .strip_prefix("#x")
                .or_else(|| name.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| name.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

impl Element {
    /// Every element below this one (depth first, document order).
    pub fn descendants(&self) -> Vec<&Element> {
        let mut found = Vec::new();
        for child in &self.children {
            if let Node::Element(e) = child {
                found.push(e);
                found.extend(e.descendants());
            }
        }
        found
    }

    /// Every element below this one with `tag`.
    pub fn all(&self, tag: &str) -> Vec<&Element> {
        self.descendants().into_iter().filter(|e| e.tag == tag).collect()
    }

    /// The element below this one with `id`.
    pub fn by_id(&self, id: &str) -> Option<&Element> {
        self.descendants().into_iter().find(|e| e.attr("id") == Some(id))
    }

    /// The direct children that are elements.
    pub fn elements(&self) -> Vec<&Element> {
        self.children
            .iter()
            .filter_map(|c| match c {
                Node::Element(e) => Some(e),
                Node::Text(_) => None,
            })
            .collect()
    }

    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    /// Whether `class` holds `name`.
    pub fn has_class(&self, name: &str) -> bool {
        self.attr("class").is_some_and(|c| c.split_whitespace().any(|n| n == name))
    }

    /// All the text inside, decoded, as written (whitespace kept).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for child in &self.children {
            match child {
                Node::Text(t) => out.push_str(t),
                Node::Element(e) => out.push_str(&e.text()),
            }
        }
        out
    }

    /// [`Element::text`] with runs of whitespace made one space, trimmed.
    pub fn words(&self) -> String {
        self.text().split_whitespace().collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_small_page() {
        let doc = parse(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><style>a>b{}</style></head>\
             <body><p id=x class='a b'>1 &lt; 2 &amp; &#39;q&#39;<br>&#x41;</p><svg><rect w=\"1\"/></svg></body></html>",
        )
        .unwrap();
        assert_eq!(doc.attr("doctype"), Some("DOCTYPE html"));
        let p = doc.by_id("x").unwrap();
        assert!(p.has_class("b"));
        assert_eq!(p.text(), "1 < 2 & 'q'A");
        assert_eq!(doc.all("rect").len(), 1);
        assert_eq!(doc.all("style")[0].text(), "a>b{}");
    }

    #[test]
    fn refuses_a_page_that_does_not_nest() {
        assert!(parse("<p><b>x</p></b>").is_err());
        assert!(parse("<div>").is_err());
        assert!(parse("</div>").is_err());
        assert!(parse("<p a=1 a=2></p>").is_err());
    }
}
