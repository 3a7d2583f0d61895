//! Distinguished names written the way Go's `crypto/x509/pkix.Name.String()` writes them.
//!
//! Ratify reports a notation signer as `extensions.Issuer` / `extensions.SN` =
//! `leaf.Issuer.String()` / `leaf.Subject.String()`, and its `notation-issuer-validation`
//! template compares `Issuer` to a parameter copied from a Ratify deployment byte for byte. Go
//! does not follow the certificate's order: it rebuilds the name from its struct fields
//! (`C, ST, L, STREET, POSTALCODE, O, OU`, then `CN`, then `SERIALNUMBER`, each list's values
//! joined by `+`, the last CN and SERIALNUMBER only), prints that sequence reversed with `,` and
//! no spaces, and ends with the other attributes in reverse certificate order as
//! `<oid>=#<hex of the value re-encoded as PrintableString or UTF8String>`. Named values escape
//! `,+"\<>;` always, `#` first and a space first or last; nothing else. Facts and sources:
//! docs/decisions.md (D21).

use x509_parser::der_parser::asn1_rs::Tag;
use x509_parser::x509::{AttributeTypeAndValue, X509Name};

/// Go's short names, in the field order of `pkix.Name.ToRDNSequence` (before reversal); `CN`
/// and `SERIALNUMBER` keep only their last value.
const FIELDS: [(&str, &str); 9] = [
    ("2.5.4.6", "C"),
    ("2.5.4.8", "ST"),
    ("2.5.4.7", "L"),
    ("2.5.4.9", "STREET"),
    ("2.5.4.17", "POSTALCODE"),
    ("2.5.4.10", "O"),
    ("2.5.4.11", "OU"),
    ("2.5.4.3", "CN"),
    ("2.5.4.5", "SERIALNUMBER"),
];

/// `name` as Go's `pkix.Name.String()` prints it.
pub fn go_name_string(name: &X509Name<'_>) -> String {
    let mut fields: Vec<Vec<String>> = vec![Vec::new(); FIELDS.len()];
    let mut others: Vec<String> = Vec::new();
    for attr in name.iter_attributes() {
        let oid = attr.attr_type().to_id_string();
        match FIELDS.iter().position(|(o, _)| *o == oid) {
            Some(i) => {
                let value = decode(attr);
                let single = FIELDS[i].1 == "CN" || FIELDS[i].1 == "SERIALNUMBER";
                if single {
                    fields[i] = vec![value];
                } else {
                    fields[i].push(value);
                }
            }
            None => others.push(format!("{oid}=#{}", other_hex(attr))),
        }
    }
    // The regenerated sequence, then reversed; the other attributes come first in Go's list
    // (so last once reversed), themselves reversed.
    let mut rdns: Vec<String> = Vec::new();
    for (i, values) in fields.iter().enumerate() {
        let short = FIELDS[i].1;
        let values: Vec<&String> = if short == "CN" || short == "SERIALNUMBER" {
            values.iter().filter(|v| !v.is_empty()).collect()
        } else {
            values.iter().collect()
        };
        if values.is_empty() {
            continue;
        }
        let rdn: Vec<String> = values
            .iter()
            .map(|v| format!("{short}={}", escape(v)))
            .collect();
        rdns.push(rdn.join("+"));
    }
    rdns.reverse();
    rdns.extend(others.into_iter().rev());
    rdns.join(",")
}

/// The attribute's value as the Go string it becomes after parsing.
fn decode(attr: &AttributeTypeAndValue<'_>) -> String {
    let any = attr.attr_value();
    let data: &[u8] = any.data;
    if any.tag() == Tag::BmpString {
        let mut units: Vec<u16> = data
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]))
            .collect();
        if units.last() == Some(&0) {
            units.pop();
        }
        return String::from_utf16_lossy(&units);
    }
    String::from_utf8_lossy(data).into_owned()
}

/// The hex DER of an unnamed attribute's value as Go re-encodes it: PrintableString when every
/// byte is in its alphabet, else UTF8String.
fn other_hex(attr: &AttributeTypeAndValue<'_>) -> String {
    let value = decode(attr);
    let bytes = value.as_bytes();
    let printable = bytes.iter().all(|b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b' ' | b'\'' | b'(' | b')' | b'+' | b',' | b'-' | b'.' | b'/' | b':' | b'=' | b'?'
            )
    });
    let mut der = vec![if printable { 0x13 } else { 0x0c }];
    let len = bytes.len();
    if len < 0x80 {
        der.push(len as u8);
    } else {
        let be = len.to_be_bytes();
        let skip = be.iter().take_while(|b| **b == 0).count();
        der.push(0x80 | (be.len() - skip) as u8);
        der.extend_from_slice(&be[skip..]);
    }
    der.extend_from_slice(bytes);
    der.iter().map(|b| format!("{b:02x}")).collect()
}

/// Go's escaping of a named attribute's value (`RDNSequence.String`).
fn escape(value: &str) -> String {
    let last = value.len().saturating_sub(1);
    let mut out = String::with_capacity(value.len());
    for (k, c) in value.char_indices() {
        let needs = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || (c == ' ' && (k == 0 || k == last))
            || (c == '#' && k == 0);
        if needs {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::escape;

    #[test]
    fn escaping_follows_go() {
        assert_eq!(escape("Acme, Inc."), r"Acme\, Inc.");
        assert_eq!(escape("a+b"), r"a\+b");
        assert_eq!(escape(r#"say "hi""#), r#"say \"hi\""#);
        assert_eq!(escape(r"back\slash"), r"back\\slash");
        assert_eq!(escape("<tag>;x"), r"\<tag\>\;x");
        assert_eq!(escape("#1 team"), r"\#1 team");
        assert_eq!(escape("team #1"), "team #1");
        assert_eq!(escape(" lead"), r"\ lead");
        assert_eq!(escape("trail "), r"trail\ ");
        assert_eq!(escape("  two"), r"\  two");
        assert_eq!(escape(" "), r"\ ");
        assert_eq!(escape("a=b"), "a=b");
        assert_eq!(escape(r#" #x, "y" "#), r#"\ #x\, \"y\"\ "#);
        assert_eq!(escape("Müller"), "Müller");
    }
}
