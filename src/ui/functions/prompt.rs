//! The prompt for a function's argument (free text with completions, or a pick from a list)
//! and the question before a function that can hurt.

use crate::model::{Function, FunctionTarget};

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Choice {
    /// What is sent when it is picked.
    pub value: String,
    /// How it is shown ("4103 Oyelaran (AVAIL)").
    pub label: String,
}

/// A prompt for a function's argument: free text with completions, or a pick from a list.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Prompt {
    /// What it is for.
    pub function: Function,
    /// What the function acts on.
    pub target: FunctionTarget,
    /// The question, e.g. "Transfer the call from 02079460958 to:".
    pub label: String,
    /// What was typed.
    pub input: String,
    /// Every completion.
    pub choices: Vec<Choice>,
    /// The completions that match what was typed (indices into `choices`).
    pub matches: Vec<usize>,
    /// The completion picked (a position in `matches`).
    pub picked: Option<usize>,
    /// Whether only a completion can be sent (a picker), or any text.
    pub choices_only: bool,
    /// The input is a suggestion nobody has touched yet: typing replaces it.
    pub suggestion: bool,
    /// A note shown with the prompt (why there is no list, what is now set).
    pub note: Option<String>,
    /// Why the last Enter did not send.
    pub error: Option<String>,
}

impl Prompt {
    pub(super) fn new(
        function: Function,
        target: FunctionTarget,
        label: String,
        choices: Vec<Choice>,
    ) -> Prompt {
        let mut p = Prompt {
            function,
            target,
            label,
            input: String::new(),
            matches: Vec::new(),
            choices,
            picked: None,
            choices_only: false,
            suggestion: false,
            note: None,
            error: None,
        };
        p.refilter();
        p
    }

    /// What the prompt shows, and what Enter sends.
    pub fn shown(&self) -> &str {
        match self.picked_choice() {
            Some(c) => &c.value,
            None if self.choices_only => "",
            None => &self.input,
        }
    }

    /// The completion picked, if one is.
    pub fn picked_choice(&self) -> Option<&Choice> {
        self.picked
            .and_then(|p| self.matches.get(p))
            .and_then(|i| self.choices.get(*i))
    }

    pub(super) fn refilter(&mut self) {
        let needle = self.input.trim().to_lowercase();
        let letters = needle.chars().any(char::is_alphabetic);
        self.matches = self
            .choices
            .iter()
            .enumerate()
            .filter(|(_, c)| {
                needle.is_empty()
                    || c.value.to_lowercase().starts_with(&needle)
                    || ((letters || self.choices_only) && c.label.to_lowercase().contains(&needle))
            })
            .map(|(i, _)| i)
            .collect();
        // A picker always shows one of its choices; free text shows what was typed.
        self.picked = (self.choices_only && !self.matches.is_empty()).then_some(0);
    }

    /// Types a character.
    pub fn type_char(&mut self, c: char) {
        if c.is_control() {
            return;
        }
        self.error = None;
        if self.suggestion {
            self.input.clear();
            self.suggestion = false;
        } else if !self.choices_only {
            // Typing carries on from what the prompt shows (a picked completion included).
            self.input = self.shown().to_owned();
        }
        self.input.push(c);
        self.refilter();
    }

    /// Deletes the last character.
    pub fn delete(&mut self) {
        self.error = None;
        if !self.choices_only {
            self.input = self.shown().to_owned();
        }
        self.suggestion = false;
        self.input.pop();
        self.refilter();
    }

    /// Empties the prompt.
    pub fn clear(&mut self) {
        self.error = None;
        self.suggestion = false;
        self.input.clear();
        self.refilter();
    }

    /// Picks the next (`forward`) or previous completion, wrapping; free text comes back
    /// after the last.
    pub fn cycle(&mut self, forward: bool) {
        self.error = None;
        let n = self.matches.len();
        if n == 0 {
            return;
        }
        self.picked = match (self.picked, forward) {
            (None, true) => Some(0),
            (None, false) => Some(n - 1),
            (Some(p), true) if p + 1 < n => Some(p + 1),
            (Some(_), true) if self.choices_only => Some(0),
            (Some(_), true) => None,
            (Some(0), false) if self.choices_only => Some(n - 1),
            (Some(0), false) => None,
            (Some(p), false) => Some(p - 1),
        };
    }
}

/// A question before a function that can hurt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Confirm {
    /// What it is for.
    pub function: Function,
    /// What the function acts on.
    pub target: FunctionTarget,
    /// The function's argument, decided already.
    pub argument: Option<String>,
    /// The question.
    pub question: String,
    /// A word that must be typed and followed by Enter (`OOS`), instead of the confirm key.
    pub word: Option<&'static str>,
    /// What has been typed of it.
    pub typed: String,
    /// What the confirm key does, e.g. "drop".
    pub yes: String,
}
