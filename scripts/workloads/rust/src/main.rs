// A deterministic workload over serde_json and regex: builds documents, parses and
// re-serializes them, and searches the text with regular expressions.
use regex::Regex;
use serde_json::{json, Value};

fn main() {
    let word = Regex::new(r"\b[a-z]{3,}_[0-9]+\b").unwrap();
    let number = Regex::new(r"-?[0-9]+\.[0-9]{2}").unwrap();
    let mut total_matches = 0usize;
    let mut checksum = 0u64;
    for round in 0..400u64 {
        let items: Vec<Value> = (0..50u64)
            .map(|i| {
                json!({
                    "id": round * 50 + i,
                    "name": format!("item_{}", (round * 31 + i * 7) % 1000),
                    "price": ((round * 13 + i * 17) % 10000) as f64 / 100.0,
                    "tags": ["alpha_1", "beta_22", format!("gamma_{}", i)],
                })
            })
            .collect();
        let doc = json!({ "round": round, "items": items });
        let text = serde_json::to_string_pretty(&doc).unwrap();
        let back: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(back, doc);
        total_matches += word.find_iter(&text).count() + number.find_iter(&text).count();
        for b in text.bytes() {
            checksum = checksum.wrapping_mul(31).wrapping_add(b as u64);
        }
    }
    println!("matches {total_matches} checksum {checksum:016x}");
}
