//! Word lists used by the rules extractor.

/// Common English words that are never read as a person's name (lower case).
pub(crate) fn is_common_word(word: &str) -> bool {
    COMMON.binary_search(&word).is_ok()
}

/// Sorted (checked by a test).
const COMMON: &[&str] = &[
    "a", "about", "actually", "address", "after", "again", "ago", "all", "also", "am", "an", "and", "another", "any",
    "anyway", "appointment", "are", "around", "as", "asap", "at", "away", "back", "bad", "be", "because", "been",
    "before", "behind", "being", "best", "better", "book", "booked", "booking", "both", "but", "by", "call",
    "calling", "can", "cell", "checking", "coming", "could", "customer", "dad", "day", "did", "do", "does", "doing",
    "done", "down", "dr", "each", "evening", "ever", "every", "fine", "first", "for", "from", "full", "get", "getting",
    "glad", "go", "going", "gonna", "good", "got", "great", "had", "happy", "has", "have", "having", "he", "hello",
    "her", "here", "hers", "hey", "hi", "him", "his", "home", "hoping", "house", "how", "husband", "i", "i'd", "i'll",
    "i'm", "i've", "if", "in", "into", "is", "it", "it's", "its", "just", "kind", "know", "last", "later", "let",
    "like", "looking", "lot", "ma'am", "made", "make", "many", "may", "maybe", "me", "mine", "miss", "mobile",
    "mom", "more", "morning", "mother", "mr", "mrs", "ms", "much", "my", "name", "need", "needs", "new", "next", "no",
    "nope", "not", "now", "number", "of", "off", "oh", "okay", "ok", "on", "one", "only", "or", "other", "our", "out",
    "over", "owner", "phone", "please", "pretty", "probably", "quick", "quite", "re", "real", "really", "regarding",
    "right", "ring", "said", "same", "say", "see", "she", "should", "sir", "so", "some", "someone", "something",
    "sorry", "speaking", "still", "sure", "than", "thank", "thanks", "that", "that's", "the", "their", "them", "then",
    "there", "these", "they", "this", "those", "though", "to", "today", "tomorrow", "too", "totally", "trying", "uh",
    "um", "unit", "up", "us", "very", "wanted", "was", "way", "we", "we're", "well", "were", "what", "when", "where",
    "which", "who", "whole", "why", "wife", "will", "with", "wondering", "would", "yeah", "yep", "yes", "you",
    "your", "yours",
];

/// Titles dropped from names.
pub(crate) fn is_title(word: &str) -> bool {
    matches!(
        word,
        "mr" | "mrs" | "ms" | "miss" | "mister" | "missus" | "dr" | "doctor" | "deacon" | "pastor" | "father"
            | "reverend" | "rev" | "sir" | "madam" | "professor" | "prof"
    )
}

/// Street suffixes and their spelled-out form.
pub(crate) fn street_suffix(word: &str) -> Option<&'static str> {
    Some(match word {
        "street" | "st" => "Street",
        "avenue" | "ave" | "av" => "Avenue",
        "road" | "rd" => "Road",
        "drive" | "dr" => "Drive",
        "lane" | "ln" => "Lane",
        "court" | "ct" => "Court",
        "boulevard" | "blvd" => "Boulevard",
        "way" => "Way",
        "place" | "pl" => "Place",
        "terrace" | "ter" => "Terrace",
        "circle" | "cir" => "Circle",
        "parkway" | "pkwy" => "Parkway",
        "highway" | "hwy" => "Highway",
        "crescent" | "cres" => "Crescent",
        "close" => "Close",
        "grove" => "Grove",
        "hill" => "Hill",
        "row" => "Row",
        "square" | "sq" => "Square",
        "trail" | "trl" => "Trail",
        "loop" => "Loop",
        "pike" => "Pike",
        "gardens" => "Gardens",
        "mews" => "Mews",
        "parade" => "Parade",
        "esplanade" => "Esplanade",
        "walk" => "Walk",
        "alley" => "Alley",
        "run" => "Run",
        "path" => "Path",
        "point" => "Point",
        "green" => "Green",
        "park" => "Park",
        "broadway" => "Broadway",
        "plaza" => "Plaza",
        "ridge" => "Ridge",
        "view" => "View",
        "heights" => "Heights",
        "bend" => "Bend",
        "cove" => "Cove",
        "crossing" => "Crossing",
        "pass" => "Pass",
        _ => return None,
    })
}

/// Compass words: (spelled-out form before a street name, abbreviated form after it).
pub(crate) fn direction(word: &str) -> Option<(&'static str, &'static str)> {
    Some(match word {
        "north" | "n" => ("North", "North"),
        "south" | "s" => ("South", "South"),
        "east" | "e" => ("East", "East"),
        "west" | "w" => ("West", "West"),
        "northeast" | "ne" => ("Northeast", "NE"),
        "northwest" | "nw" => ("Northwest", "NW"),
        "southeast" | "se" => ("Southeast", "SE"),
        "southwest" | "sw" => ("Southwest", "SW"),
        _ => return None,
    })
}

/// Unit designators and their written form.
pub(crate) fn unit_word(word: &str) -> Option<&'static str> {
    Some(match word {
        "apt" | "apartment" => "Apt",
        "unit" => "Unit",
        "suite" | "ste" => "Suite",
        "flat" => "Flat",
        "#" | "number" => "#",
        "lot" => "Lot",
        "building" | "bldg" => "Building",
        "space" => "Space",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn common_words_sorted() {
        let mut sorted = super::COMMON.to_vec();
        sorted.sort_unstable();
        assert_eq!(sorted, super::COMMON);
    }
}
