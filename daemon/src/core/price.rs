//! What a model turn costs: the one table of per-model list prices, so that spending
//! is counted as each assistant message arrives rather than only when an agent ends.

/// Tokens one model turn used, as its message reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TurnUsage {
    pub input_tokens: u64,
    pub cache_creation_input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub output_tokens: u64,
}

impl TurnUsage {
    /// Every input token, cached or not: what a task's usage counts as its input.
    pub fn all_input_tokens(&self) -> u64 {
        // Saturating: the figures are an agent's stream's, which it could forge.
        self.input_tokens
            .saturating_add(self.cache_creation_input_tokens)
            .saturating_add(self.cache_read_input_tokens)
    }
}

/// List prices in dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Price {
    input: f64,
    output: f64,
}

/// The price of a model, by its family (the name Claude Code reports, such as
/// `claude-sonnet-4-20250514`). A model the table does not know is priced as the
/// dearest family it could be, so a budget is never overrun for want of a price.
fn price(model: &str) -> Price {
    let model = model.to_ascii_lowercase();
    let (input, output) = if model.contains("haiku-4") {
        (1.0, 5.0)
    } else if model.contains("haiku") {
        (0.8, 4.0)
    } else if model.contains("sonnet") {
        (3.0, 15.0)
    } else if opus_since_4_5(&model) {
        (5.0, 25.0)
    } else {
        (15.0, 75.0)
    };
    Price { input, output }
}

/// Whether `model` is an Opus of version 4.5 or later (`claude-opus-4-5-…`,
/// `claude-opus-5`, `opus-4.6`), priced a third of the earlier ones; a date after
/// the family (`claude-opus-4-20250514`) is no version.
fn opus_since_4_5(model: &str) -> bool {
    let Some((_, version)) = model.split_once("opus-") else {
        return false;
    };
    let mut numbers = version
        .split(['-', '.'])
        .map_while(|part| part.parse::<u32>().ok().filter(|&number| number < 100));
    match (numbers.next(), numbers.next()) {
        (Some(major), _) if major > 4 => true,
        (Some(4), Some(minor)) => minor >= 5,
        _ => false,
    }
}

/// The cost in dollars of one turn of `model`: cache writes at 1.25 times the input
/// price, cache reads at a tenth of it.
pub fn cost(model: &str, usage: &TurnUsage) -> f64 {
    let price = price(model);
    let per_token =
        |tokens: u64, dollars_per_million: f64| tokens as f64 * dollars_per_million / 1e6;
    per_token(usage.input_tokens, price.input)
        + per_token(usage.cache_creation_input_tokens, price.input * 1.25)
        + per_token(usage.cache_read_input_tokens, price.input * 0.1)
        + per_token(usage.output_tokens, price.output)
}

/// One turn of `model` as an attempt counts it: its cost, its tokens, one turn.
pub fn turn(model: &str, usage: &TurnUsage) -> baton_protocol::Usage {
    baton_protocol::Usage {
        cost_usd: cost(model, usage),
        input_tokens: usage.all_input_tokens(),
        output_tokens: usage.output_tokens,
        turns: 1,
        duration_ms: 0,
    }
}

/// The output tokens a turn wrote beyond those counted as it started: no new turn.
pub fn more_output(model: &str, output_tokens: u64) -> baton_protocol::Usage {
    let usage = TurnUsage {
        output_tokens,
        ..TurnUsage::default()
    };
    baton_protocol::Usage {
        cost_usd: cost(model, &usage),
        output_tokens,
        ..baton_protocol::Usage::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_from_4_5_on_is_priced_at_its_own_list_price_and_earlier_ones_at_theirs() {
        for (model, input) in [
            ("claude-opus-4-5-20251101", 5.0),
            ("claude-opus-4-6", 5.0),
            ("claude-opus-5-5", 5.0),
            ("claude-opus-5", 5.0),
            ("opus-4.5", 5.0),
            ("claude-opus-4-20250514", 15.0),
            ("claude-opus-4-1-20250805", 15.0),
            ("claude-3-opus-20240229", 15.0),
            ("a-model-of-tomorrow", 15.0),
        ] {
            assert_eq!(price(model).input, input, "{model}");
        }
    }

    #[test]
    fn a_sonnet_turn_costs_its_list_price() {
        let usage = TurnUsage {
            input_tokens: 1_000_000,
            output_tokens: 100_000,
            ..TurnUsage::default()
        };
        let dollars = cost("claude-sonnet-4-20250514", &usage);
        assert!((dollars - 4.5).abs() < 1e-9, "{dollars}");
    }

    #[test]
    fn cached_input_is_cheaper_and_an_unknown_model_is_priced_high() {
        let cached = TurnUsage {
            cache_read_input_tokens: 1_000_000,
            ..TurnUsage::default()
        };
        assert!((cost("claude-sonnet-4-5", &cached) - 0.3).abs() < 1e-9);
        let plain = TurnUsage {
            input_tokens: 1_000_000,
            ..TurnUsage::default()
        };
        assert!(cost("some-new-model", &plain) >= cost("claude-opus-4-1", &plain));
    }
}
