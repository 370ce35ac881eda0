//! How much memory a request body may take once parsed, told before it is parsed.
//! A request is parsed into a tree of JSON values, which is far larger than its
//! text for some shapes: 60 MiB of `[0,0,…]` is a gigabyte of values, and of
//! `[{"a":0},…]` five. The daemon takes this much room from its shared budget before
//! parsing, and refuses a body that would need more than the budget holds.

/// Bytes a JSON value takes in an array, or a key in an object, counting the room
/// an array's growth leaves spare.
const VALUE: usize = 64;

/// Bytes an object with any member takes before its members: the first node of the
/// ordered map it is read into.
const OBJECT: usize = 640;

/// An upper bound, measured against serde_json's `Value` (docs/protocol.md), of the
/// bytes parsing `body` holds: a value for each `[`, `,` and `:` outside strings, an
/// object's node for each `{`, and the text again for the strings copied out of it.
/// One pass over the bytes, no allocation.
pub fn room_to_parse(body: &[u8]) -> usize {
    let mut room = body.len().saturating_mul(2);
    let mut in_string = false;
    let mut escaped = false;
    for &byte in body {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        room = room.saturating_add(match byte {
            b'"' => {
                in_string = true;
                0
            }
            b'[' | b',' | b':' => VALUE,
            b'{' => OBJECT,
            _ => 0,
        });
    }
    room
}

#[cfg(test)]
mod tests {
    use super::room_to_parse;

    #[test]
    fn structure_inside_strings_costs_nothing_more_than_its_text() {
        let plain = br#"{"description":"a b c d ef"}"#;
        let busy = br#"{"description":"{,[:\"{,[}"}"#;
        assert_eq!(plain.len(), busy.len());
        assert_eq!(room_to_parse(plain), room_to_parse(busy));
    }

    #[test]
    fn the_shapes_that_grow_most_when_parsed_are_weighed_at_their_worst() {
        // Measured growth per byte of text when parsed: 16× for `[0,0,…]`, 88× for
        // `[{"a":0},…]` (each object a map node of its own).
        let zeros = format!("[{}0]", "0,".repeat(1000));
        assert!(room_to_parse(zeros.as_bytes()) >= 16 * zeros.len());
        let objects = format!("[{}{{\"a\":0}}]", "{\"a\":0},".repeat(1000));
        assert!(room_to_parse(objects.as_bytes()) >= 88 * objects.len());
    }

    #[test]
    fn a_batch_of_tasks_weighs_a_few_times_its_text() {
        let task = r#"{"description":"write the parser for the config file","priority":5,"dependencies":["task-001"],"context_files":["src/config.rs"],"hints":""},"#;
        let batch = format!("{{\"tasks\":[{}]}}", task.repeat(10_000));
        let room = room_to_parse(batch.as_bytes());
        assert!(room < 12 * batch.len(), "{room} for {}", batch.len());
    }
}
