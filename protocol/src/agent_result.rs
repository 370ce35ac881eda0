//! What an agent's log says it spent: Claude Code's `result` event, as the daemon
//! counts it and `baton logs` shows it, read the same way by both.

use serde_json::Value;

/// What the process whose `result` event this is spent. A resumed session's
/// `total_cost_usd` goes on from what its earlier processes spent, which their own
/// results already reported; `model_usage_since_last_result` holds this process's
/// part alone, by model.
pub fn process_cost(result: &Value) -> f64 {
    match result["model_usage_since_last_result"].as_object() {
        Some(models) => models
            .values()
            .filter_map(|usage| usage["costUSD"].as_f64())
            // Not `sum`: that of nothing is -0.0, shown as `$-0.0000`.
            .fold(0.0, |spent, cost| spent + cost),
        None => result["total_cost_usd"].as_f64().unwrap_or(0.0),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_process_that_used_no_model_spent_a_plain_zero() {
        let spent = process_cost(&json!({ "model_usage_since_last_result": {} }));
        assert_eq!(format!("${spent:.4}"), "$0.0000");
        let spent = process_cost(&json!({
            "model_usage_since_last_result": { "a": { "costUSD": 0.5 }, "b": { "costUSD": 0.25 } }
        }));
        assert_eq!(spent, 0.75);
        assert_eq!(process_cost(&json!({ "total_cost_usd": 1.5 })), 1.5);
    }
}
