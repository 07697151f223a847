//! Prices: "$89", "89 dollars", "£95", "two grand", "ten thousand", "under 500", "one seventy five".

use super::Call;
use super::numbers::spoken_number;
use crate::datetime::Token;
use crate::types::{Field, Money, Price, PriceKind};

/// An amount found in a turn.
struct Amount {
    money: Money,
    token: usize,
    end: usize,
}

/// Reads an amount at token `i`: needs a currency sign (kept by the tokenizer as the preceding byte), a currency
/// word after it, or "grand"/"thousand"/"hundred".
fn amounts(text: &str, tokens: &[Token]) -> Vec<Amount> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let sign = token.span.start > 0
            && matches!(
                text[..token.span.start].chars().next_back(),
                Some('$' | '£' | '€')
            );
        let (value, used) = if token.text.bytes().next().is_some_and(|b| b.is_ascii_digit()) {
            let cleaned: String = token
                .text
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            // "8,800" is tokenised as "8" "800" with a comma between: join them.
            let mut joined = cleaned;
            let mut used = 1;
            while let Some(next) = tokens.get(i + used) {
                let comma = text[tokens[i + used - 1].span.end..next.span.start] == *",";
                if comma && next.text.len() == 3 && next.text.bytes().all(|b| b.is_ascii_digit()) {
                    joined.push_str(&next.text);
                    used += 1;
                } else {
                    break;
                }
            }
            match crate::types::parse_money(&joined) {
                Some(m) => (Some(m.0), used),
                None => (None, 1),
            }
        } else if let Some((digits, used)) = spoken_number(tokens, i, 4) {
            match digits.parse::<i64>() {
                Ok(n) if n > 0 => (n.checked_mul(100), used),
                _ => (None, 1),
            }
        } else {
            (None, 1)
        };
        let Some(mut cents) = value else {
            i += used;
            continue;
        };
        let mut end = i + used;
        let mut currency_word = false;
        match tokens.get(end).map(|t| t.text.as_str()) {
            Some("grand" | "thousand" | "k") => {
                // An absurd amount ("99999999999999999 grand") is not a price; never overflow on it.
                let Some(scaled) = cents.checked_mul(1000) else {
                    i += used;
                    continue;
                };
                cents = scaled;
                end += 1;
                currency_word = true;
            }
            Some("hundred") if cents < 100 * 100 => {
                cents *= 100;
                end += 1;
            }
            _ => {}
        }
        if let Some(word) = tokens.get(end).map(|t| t.text.as_str())
            && matches!(
                word,
                "dollars" | "dollar" | "bucks" | "pounds" | "quid" | "euros" | "usd" | "cad" | "aud"
            )
        {
            // "60 pounds" of weight is ambiguous with money; weight words in context decide.
            let weight = word == "pounds"
                && tokens
                    .get(end + 1)
                    .is_some_and(|t| matches!(t.text.as_str(), "of" | "heavy"))
                || word == "pounds"
                    && !text.contains('£')
                    && !matches!(
                        tokens.get(i.wrapping_sub(1)).map(|t| t.text.as_str()),
                        Some("is" | "be" | "costs" | "charge" | "for" | "about")
                    );
            if !weight {
                currency_word = true;
                end += 1;
            }
        }
        if sign || currency_word {
            out.push(Amount {
                money: Money(cents),
                token: i,
                end,
            });
        }
        i = end.max(i + 1);
    }
    out
}

/// Finds the price of the booked job.
pub(crate) fn find(call: &Call<'_>) -> Option<Field<Price>> {
    let currency = call.ctx.currency().to_owned();
    let mut fee: Option<Field<Price>> = None;
    let mut quote: Option<Field<Price>> = None;
    let mut total: Option<Field<Price>> = None;
    let mut budget: Option<Field<Price>> = None;
    for turn in &call.turns {
        let found = amounts(&turn.text, &turn.tokens);
        for (n, amount) in found.iter().enumerate() {
            let before: Vec<&str> = turn.tokens[amount.token.saturating_sub(8)..amount.token]
                .iter()
                .map(|t| t.text.as_str())
                .collect();
            let after: Vec<&str> = turn.tokens[amount.end..(amount.end + 6).min(turn.tokens.len())]
                .iter()
                .map(|t| t.text.as_str())
                .collect();
            let window = format!(" {} | {} ", before.join(" "), after.join(" "));
            // Ranges ("between 14 and 19 thousand", "$4,200 to $5,500") and add-ons are not the price.
            let near_before: Vec<&str> = before.iter().rev().take(2).copied().collect();
            let range = near_before.contains(&"between")
                || near_before.contains(&"from")
                || found.get(n + 1).is_some_and(|next| next.token <= amount.end + 1)
                || n > 0
                    && found[n - 1].end + 1 >= amount.token
                    && turn
                        .tokens
                        .get(found[n - 1].end)
                        .is_some_and(|t| matches!(t.text.as_str(), "to" | "and" | "or"));
            if range
                || window.contains(" extra ")
                || window.contains(" additional")
                || window.contains(" on top")
                || window.contains(" free")
            {
                continue;
            }
            let evidence = turn
                .slice(
                    amount.token.saturating_sub(4),
                    (amount.end + 4).min(turn.tokens.len()),
                )
                .to_owned();
            let price = |kind| Price {
                amount: amount.money,
                currency: currency.clone(),
                kind,
            };
            if turn.is_caller()
                && [
                    " under ",
                    " budget",
                    " spend",
                    " no more than",
                    " up to ",
                    " max",
                    " keep it",
                    " around ",
                    " about ",
                    " less than",
                    " hoping",
                    " afford",
                    " stay ",
                ]
                .iter()
                .any(|c| {
                    window.split('|').next().unwrap_or("").contains(c) || before.join(" ").contains(c.trim())
                })
            {
                budget.get_or_insert(Field::new(price(PriceKind::Budget), 0.7, evidence));
                continue;
            }
            let fee_cue = [
                "service call",
                "diagnostic",
                "call out",
                "callout",
                "call-out",
                "trip",
                "visit",
                "inspection",
                "after hours",
                "after-hours",
                "emergency rate",
                "dispatch",
                "come out",
                "assessment",
                "fee",
                "charge",
                "minimum",
                "survey",
                "out here",
                "to come",
            ]
            .iter()
            .any(|c| window.contains(c));
            if turn.is_caller() && !window.contains(" total") && !window.contains("so ") {
                continue;
            }
            if window.contains(" total")
                || window.contains(" all in")
                || window.contains(" altogether")
                || window.contains(" in total")
            {
                total = Some(Field::new(price(PriceKind::Quote), 0.75, evidence));
            } else if fee_cue && !window.contains(" an hour") && !window.contains(" per hour") {
                fee.get_or_insert(Field::new(price(PriceKind::Fee), 0.7, evidence));
            } else {
                quote.get_or_insert(Field::new(price(PriceKind::Quote), 0.65, evidence));
            }
        }
    }
    total.or(quote).or(fee).or(budget)
}
