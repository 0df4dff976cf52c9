//! The doctor speaks French or English, by the locale of the terminal it runs in.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    French,
}

impl Language {
    pub fn from_env() -> Language {
        Language::from_variables(|name| std::env::var(name).ok())
    }

    /// POSIX precedence: the first of LC_ALL, LC_MESSAGES, LANG that is set decides.
    pub fn from_variables(get: impl Fn(&str) -> Option<String>) -> Language {
        let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
            .into_iter()
            .find_map(|name| get(name).filter(|value| !value.is_empty()));
        match locale {
            Some(locale) if locale.starts_with("fr") => Language::French,
            _ => Language::English,
        }
    }

    /// The text of this language.
    pub fn pick<T>(self, english: T, french: T) -> T {
        match self {
            Language::English => english,
            Language::French => french,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(pairs: &[(&str, &str)]) -> Language {
        Language::from_variables(|name| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn the_first_set_locale_variable_decides() {
        assert_eq!(with(&[("LANG", "fr_FR.UTF-8")]), Language::French);
        assert_eq!(with(&[("LANG", "en_US.UTF-8")]), Language::English);
        assert_eq!(with(&[]), Language::English);
        assert_eq!(
            with(&[("LANG", "fr_FR.UTF-8"), ("LC_ALL", "C")]),
            Language::English
        );
        assert_eq!(
            with(&[("LANG", "en_GB.UTF-8"), ("LC_MESSAGES", "fr_CA.UTF-8")]),
            Language::French
        );
        assert_eq!(with(&[("LC_ALL", ""), ("LANG", "fr_BE")]), Language::French);
    }
}
