//! placeholder
/// placeholder
#[derive(Debug)]
pub struct RulesExtractor;
