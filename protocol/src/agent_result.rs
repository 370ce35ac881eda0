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
            .sum(),
        None => result["total_cost_usd"].as_f64().unwrap_or(0.0),
    }
}
