//! Keeping facts bounded: a report must stay small whatever the document lists. Lists of
//! violations and findings are cut at [`MAX_LISTED`] entries, and the report says how many there
//! were in all.

use serde::Serialize;
use serde_json::{json, Value};

/// Most entries of one list copied into a report's facts.
pub const MAX_LISTED: usize = 100;

/// The first [`MAX_LISTED`] entries of `items` as a JSON array, and the total count.
pub fn capped<T: Serialize>(items: &[T]) -> (Value, usize) {
    let shown: Vec<Value> = items
        .iter()
        .take(MAX_LISTED)
        .filter_map(|i| serde_json::to_value(i).ok())
        .collect();
    (Value::Array(shown), items.len())
}

/// `{"<name>": [first entries], "<name>Count": total}` merged into `facts`.
pub fn insert_capped<T: Serialize>(facts: &mut Value, name: &str, items: &[T]) {
    let (list, total) = capped(items);
    if let Some(obj) = facts.as_object_mut() {
        obj.insert(name.to_string(), list);
        obj.insert(format!("{name}Count"), json!(total));
    }
}
