//! Custom configuration: a user struct loaded from environment variables with serde, reporting
//! **every** missing or invalid variable in one error at init.
//!
//! ```
//! use serde::Deserialize;
//!
//! #[derive(Debug, Deserialize)]
//! struct Config {
//!     table_name: String,          // TABLE_NAME, required
//!     max_items: u32,              // MAX_ITEMS, required, parsed
//!     #[serde(default)]
//!     dry_run: bool,               // DRY_RUN, optional
//!     greeting: Option<String>,    // GREETING, optional
//! }
//!
//! let err = lamplight::config::from_vars::<Config, _, _, _>([("MAX_ITEMS", "ten")], "")
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string().lines().take(3).collect::<Vec<_>>(),
//!     [
//!         "2 configuration variables are missing or invalid:",
//!         "  - TABLE_NAME: not set",
//!         "  - MAX_ITEMS: `ten` is not valid: expected u32 (invalid digit found in string)",
//!     ]
//! );
//! ```
//!
//! Field `foo_bar` is read from `FOO_BAR` (after an optional prefix); `#[serde(rename = "..")]`
//! picks another name. Values parse by the field's type: numbers, `true`/`false` (also `1`/`0`,
//! `yes`/`no`), unit enum variants by name, `Option` (unset is `None`), sequences as
//! comma-separated lists or JSON arrays, and nested structs or maps as JSON objects. An empty
//! variable counts as unset.
//!
//! Values of variables whose names look secret ([`looks_secret`]: `DB_PASS`, `API_KEY`,
//! `DATABASE_URL`, …) never appear in errors: such a variable's own value is shown as
//! `[redacted]` and cut out of its reason (a custom `Deserialize` may quote it), and every
//! message is scrubbed of the values of all secret-looking variables given (8 bytes or
//! longer: shorter ones would cut ordinary words out of messages) and of what
//! [`scrub`](lamplight_telemetry::redact::scrub) removes (URL credentials, `password=…` pairs).

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use lamplight_telemetry::redact::{REDACTED, Scrubber, looks_secret, scrub};

/// What is wrong with one configuration variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// A required variable is not set.
    Missing,
    /// The variable is set but does not parse as its field's type.
    Invalid {
        /// The value (or `[redacted]` for secret-looking names).
        value: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A rule of the struct itself failed (for example a `deserialize_with` check).
    Other(String),
}

/// One variable and its problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarProblem {
    /// The environment variable's name (empty for struct-level problems).
    pub var: String,
    /// What is wrong.
    pub problem: Problem,
}

/// Configuration could not be loaded; every problem found is listed, in field order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Each missing or invalid variable.
    pub problems: Vec<VarProblem>,
}

impl ConfigError {
    /// The names of the variables at fault.
    pub fn vars(&self) -> impl Iterator<Item = &str> {
        self.problems.iter().map(|p| p.var.as_str())
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{n} configuration variable{} missing or invalid:",
            if n == 1 { " is" } else { "s are" }
        )?;
        for p in &self.problems {
            match &p.problem {
                Problem::Missing => writeln!(f, "  - {}: not set", p.var)?,
                Problem::Invalid { value, reason } => {
                    writeln!(f, "  - {}: `{value}` is not valid: {reason}", p.var)?
                }
                Problem::Other(reason) if p.var.is_empty() => writeln!(f, "  - {reason}")?,
                Problem::Other(reason) => writeln!(f, "  - {}: {reason}", p.var)?,
            }
        }
        write!(
            f,
            "set them in the function's environment ([package.metadata.lamplight.env] in its \
             Cargo.toml, or the Lambda console)"
        )
    }
}

/// Loads `T` from the process environment; field `foo` reads variable `FOO`.
pub fn from_env<T: DeserializeOwned>() -> Result<T, ConfigError> {
    from_vars(std::env::vars(), "")
}

/// Loads `T` from the process environment; field `foo` reads variable `<prefix>FOO`.
pub fn from_env_prefixed<T: DeserializeOwned>(prefix: &str) -> Result<T, ConfigError> {
    from_vars(std::env::vars(), prefix)
}

/// Loads `T` from `vars`; field `foo` reads variable `<prefix>FOO`.
pub fn from_vars<T, I, K, V>(vars: I, prefix: &str) -> Result<T, ConfigError>
where
    T: DeserializeOwned,
    I: IntoIterator<Item = (K, V)>,
    K: Into<String>,
    V: Into<String>,
{
    let vars: HashMap<String, String> = vars
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    let mut loader = Loader {
        vars,
        prefix: prefix.to_owned(),
        placeholders: HashSet::new(),
    };
    let mut problems: Vec<(usize, VarProblem)> = Vec::new();
    let mut fields: &'static [&'static str] = &[];
    // Each failed pass names one problem; the field is then stood in for by a placeholder so the
    // next pass can find the following one. Every pass settles one field, so this ends.
    loop {
        let pass = T::deserialize(Top {
            loader: &loader,
            fields: &mut fields,
        });
        let (field, problem) = match pass {
            Ok(value) if problems.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(DeError::Missing(field)) => (field, Problem::Missing),
            Err(DeError::Invalid {
                field,
                value,
                reason,
            }) => (field, Problem::Invalid { value, reason }),
            Err(DeError::Custom(reason)) => {
                problems.push((
                    usize::MAX,
                    VarProblem {
                        var: String::new(),
                        problem: Problem::Other(reason),
                    },
                ));
                break;
            }
            // A placeholder the struct refused: report what was found so far.
            Err(DeError::Placeholder) => break,
        };
        if !loader.placeholders.insert(field) {
            break;
        }
        let order = fields
            .iter()
            .position(|f| *f == field)
            .unwrap_or(usize::MAX);
        problems.push((
            order,
            VarProblem {
                var: loader.var_name(field),
                problem,
            },
        ));
    }
    problems.sort_by_key(|(order, _)| *order);
    let secrets = Scrubber::new(
        loader
            .vars
            .iter()
            .filter(|(name, _)| looks_secret(name))
            .map(|(_, value)| value.clone()),
    );
    let clean = |text: String| -> String {
        let once = secrets.scrub(&text).into_owned();
        scrub(&once).into_owned()
    };
    Err(ConfigError {
        problems: problems
            .into_iter()
            .map(|(_, mut p)| {
                p.problem = match p.problem {
                    Problem::Missing => Problem::Missing,
                    Problem::Invalid { value, reason } => Problem::Invalid {
                        value: clean(value),
                        reason: clean(reason),
                    },
                    Problem::Other(reason) => Problem::Other(clean(reason)),
                };
                p
            })
            .collect(),
    })
}

struct Loader {
    vars: HashMap<String, String>,
    prefix: String,
    placeholders: HashSet<&'static str>,
}

impl Loader {
    fn var_name(&self, field: &str) -> String {
        format!("{}{}", self.prefix, field.to_ascii_uppercase())
    }
}

#[derive(Debug)]
enum DeError {
    Missing(&'static str),
    Invalid {
        field: &'static str,
        value: String,
        reason: String,
    },
    Custom(String),
    Placeholder,
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing(field) => write!(f, "missing field `{field}`"),
            Self::Invalid { reason, .. } | Self::Custom(reason) => f.write_str(reason),
            Self::Placeholder => f.write_str("placeholder rejected"),
        }
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        Self::Custom(msg.to_string())
    }

    fn missing_field(field: &'static str) -> Self {
        Self::Missing(field)
    }
}

/// The top level: a struct whose fields are environment variables.
struct Top<'a> {
    loader: &'a Loader,
    fields: &'a mut &'static [&'static str],
}

impl<'de> de::Deserializer<'de> for Top<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, _visitor: V) -> Result<V::Value, DeError> {
        Err(DeError::Custom(
            "configuration must be a struct with named fields (#[serde(flatten)] is not supported)"
                .into(),
        ))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        *self.fields = fields;
        let entries = fields
            .iter()
            .filter_map(|&field| {
                if self.loader.placeholders.contains(field) {
                    return Some((field, None));
                }
                let var = self.loader.var_name(field);
                self.loader
                    .vars
                    .get(&var)
                    .map(|v| (field, Some(v.as_str())))
            })
            .collect::<Vec<_>>()
            .into_iter();
        visitor.visit_map(Fields {
            entries,
            current: None,
            loader: self.loader,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
        ignored_any
    }
}

struct Fields<'a, I> {
    entries: I,
    current: Option<(&'static str, Option<&'a str>)>,
    loader: &'a Loader,
}

impl<'de, 'a, I> MapAccess<'de> for Fields<'a, I>
where
    I: Iterator<Item = (&'static str, Option<&'a str>)>,
{
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some(entry) => {
                self.current = Some(entry);
                seed.deserialize(entry.0.into_deserializer()).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let Some((field, value)) = self.current.take() else {
            return Err(DeError::Custom("value requested before its key".into()));
        };
        let Some(text) = value else {
            return seed
                .deserialize(Placeholder)
                .map_err(|_| DeError::Placeholder);
        };
        seed.deserialize(Text(text)).map_err(|e| {
            let reason = match e {
                DeError::Missing(inner) => format!("missing field `{inner}`"),
                other => other.to_string(),
            };
            let var = self.loader.var_name(field);
            if looks_secret(&var) {
                // A custom `Deserialize` may quote the value it refused.
                let mut reason = reason;
                for own in [text, text.trim()] {
                    if !own.is_empty() {
                        reason = reason.replace(own, REDACTED);
                    }
                }
                DeError::Invalid {
                    field,
                    value: REDACTED.into(),
                    reason,
                }
            } else {
                DeError::Invalid {
                    field,
                    value: text.to_owned(),
                    reason,
                }
            }
        })
    }
}

/// One variable's text, parsed by the type the field asks for.
struct Text<'a>(&'a str);

macro_rules! parse_number {
    ($($method:ident => $ty:ty, $visit:ident;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0.trim().parse::<$ty>() {
                Ok(n) => visitor.$visit(n),
                Err(e) => Err(DeError::Custom(format!("expected {} ({e})", stringify!($ty)))),
            }
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Text<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => visitor.visit_bool(true),
            "false" | "0" | "no" | "off" => visitor.visit_bool(false),
            _ => Err(DeError::Custom("expected true or false".into())),
        }
    }

    parse_number! {
        deserialize_i8 => i8, visit_i8;
        deserialize_i16 => i16, visit_i16;
        deserialize_i32 => i32, visit_i32;
        deserialize_i64 => i64, visit_i64;
        deserialize_i128 => i128, visit_i128;
        deserialize_u8 => u8, visit_u8;
        deserialize_u16 => u16, visit_u16;
        deserialize_u32 => u32, visit_u32;
        deserialize_u64 => u64, visit_u64;
        deserialize_u128 => u128, visit_u128;
        deserialize_f32 => f32, visit_f32;
        deserialize_f64 => f64, visit_f64;
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let mut chars = self.0.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) => visitor.visit_char(c),
            _ => Err(DeError::Custom("expected a single character".into())),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.trim_start().starts_with('[') {
            return json(self.0)?.deserialize_seq(visitor).map_err(json_error);
        }
        let items = self
            .0
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>();
        visitor.visit_seq(Items(items.into_iter()))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        json(self.0)?.deserialize_map(visitor).map_err(json_error)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        json(self.0)?
            .deserialize_struct(name, fields, visitor)
            .map_err(json_error)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let name = self.0.trim();
        match variants.iter().find(|v| v.eq_ignore_ascii_case(name)) {
            Some(variant) => visitor.visit_enum((*variant).into_deserializer()),
            None => Err(DeError::Custom(format!(
                "expected one of {}",
                variants.join(", ")
            ))),
        }
    }

    serde::forward_to_deserialize_any! {
        str string bytes byte_buf unit unit_struct tuple_struct identifier ignored_any
    }
}

/// Parses a value as JSON first, so nested structs, maps and JSON arrays can be given whole.
fn json(text: &str) -> Result<serde_json::Value, DeError> {
    serde_json::from_str(text).map_err(json_error)
}

fn json_error(e: serde_json::Error) -> DeError {
    DeError::Custom(format!("expected JSON ({e})"))
}

struct Items<'a, I: Iterator<Item = &'a str>>(I);

impl<'de, 'a, I: Iterator<Item = &'a str>> SeqAccess<'de> for Items<'a, I> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        self.0
            .next()
            .map(|item| seed.deserialize(Text(item)))
            .transpose()
    }
}

/// Stands in for a field already reported, so later passes can look past it: the simplest value
/// of whatever type is asked for.
struct Placeholder;

macro_rules! placeholder_scalars {
    ($($method:ident => $visit:ident($($value:expr)?);)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            visitor.$visit($($value)?)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for Placeholder {
    type Error = DeError;

    placeholder_scalars! {
        deserialize_any => visit_unit();
        deserialize_unit => visit_unit();
        deserialize_ignored_any => visit_unit();
        deserialize_bool => visit_bool(false);
        deserialize_i8 => visit_i8(0);
        deserialize_i16 => visit_i16(0);
        deserialize_i32 => visit_i32(0);
        deserialize_i64 => visit_i64(0);
        deserialize_i128 => visit_i128(0);
        deserialize_u8 => visit_u8(0);
        deserialize_u16 => visit_u16(0);
        deserialize_u32 => visit_u32(0);
        deserialize_u64 => visit_u64(0);
        deserialize_u128 => visit_u128(0);
        deserialize_f32 => visit_f32(0.0);
        deserialize_f64 => visit_f64(0.0);
        deserialize_char => visit_char(' ');
        deserialize_str => visit_str("");
        deserialize_string => visit_str("");
        deserialize_identifier => visit_str("");
        deserialize_bytes => visit_bytes(&[]);
        deserialize_byte_buf => visit_bytes(&[]);
        deserialize_option => visit_none();
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(Items(std::iter::empty()))
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_seq(Repeat(len))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_seq(Repeat(len))
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(serde::de::value::MapDeserializer::new(std::iter::empty::<(
            (),
            (),
        )>()))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_map(Fill(fields.iter()))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match variants.first() {
            Some(first) => visitor.visit_enum(FirstVariant(first)),
            None => Err(DeError::Placeholder),
        }
    }
}

struct Repeat(usize);

impl<'de> SeqAccess<'de> for Repeat {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if self.0 == 0 {
            return Ok(None);
        }
        self.0 -= 1;
        seed.deserialize(Placeholder).map(Some)
    }
}

struct Fill<I>(I);

impl<'de, I: Iterator<Item = &'static &'static str>> MapAccess<'de> for Fill<I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        self.0
            .next()
            .map(|field| seed.deserialize((*field).into_deserializer()))
            .transpose()
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        seed.deserialize(Placeholder)
    }
}

struct FirstVariant(&'static str);

impl<'de> EnumAccess<'de> for FirstVariant {
    type Error = DeError;
    type Variant = Placeholder;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Placeholder), DeError> {
        seed.deserialize(self.0.into_deserializer())
            .map(|v| (v, Placeholder))
    }
}

impl<'de> VariantAccess<'de> for Placeholder {
    type Error = DeError;

    fn unit_variant(self) -> Result<(), DeError> {
        Ok(())
    }
    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, DeError> {
        seed.deserialize(Placeholder)
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(Repeat(len))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_map(Fill(fields.iter()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Mode {
        Fast,
        Careful,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Nested {
        retries: u8,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Config {
        table_name: String,
        max_items: u32,
        ratio: f64,
        mode: Mode,
        #[serde(default)]
        dry_run: bool,
        greeting: Option<String>,
        buckets: Vec<String>,
        nested: Option<Nested>,
        api_key: String,
    }

    fn load(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        from_vars(
            vars.iter().map(|(k, v)| (k.to_string(), v.to_string())),
            "APP_",
        )
    }

    #[test]
    fn a_complete_environment_loads_every_type() {
        let config = load(&[
            ("APP_TABLE_NAME", "users"),
            ("APP_MAX_ITEMS", " 25 "),
            ("APP_RATIO", "0.5"),
            ("APP_MODE", "Careful"),
            ("APP_DRY_RUN", "yes"),
            ("APP_BUCKETS", "a, b,c"),
            ("APP_NESTED", r#"{"retries": 3}"#),
            ("APP_API_KEY", "k"),
            ("UNRELATED", "x"),
        ])
        .expect("complete");
        assert_eq!(
            config,
            Config {
                table_name: "users".into(),
                max_items: 25,
                ratio: 0.5,
                mode: Mode::Careful,
                dry_run: true,
                greeting: None,
                buckets: vec!["a".into(), "b".into(), "c".into()],
                nested: Some(Nested { retries: 3 }),
                api_key: "k".into(),
            }
        );
    }

    #[test]
    fn two_missing_variables_are_named_in_one_error() {
        let err = load(&[
            ("APP_MAX_ITEMS", "1"),
            ("APP_RATIO", "1"),
            ("APP_MODE", "fast"),
            ("APP_BUCKETS", "a"),
        ])
        .expect_err("incomplete");
        assert_eq!(
            err.vars().collect::<Vec<_>>(),
            ["APP_TABLE_NAME", "APP_API_KEY"]
        );
        assert!(err.problems.iter().all(|p| p.problem == Problem::Missing));
        assert!(
            err.to_string()
                .starts_with("2 configuration variables are missing or invalid:")
        );
    }

    #[test]
    fn invalid_and_missing_variables_are_all_reported_in_field_order() {
        let err = load(&[
            ("APP_MAX_ITEMS", "ten"),
            ("APP_MODE", "reckless"),
            ("APP_DRY_RUN", "maybe"),
            ("APP_BUCKETS", "a"),
            ("APP_NESTED", "{"),
            ("APP_API_KEY", "k"),
        ])
        .expect_err("broken");
        let text = err.to_string();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(
            lines[0],
            "6 configuration variables are missing or invalid:"
        );
        assert_eq!(lines[1], "  - APP_TABLE_NAME: not set");
        assert_eq!(
            lines[2],
            "  - APP_MAX_ITEMS: `ten` is not valid: expected u32 (invalid digit found in string)"
        );
        assert_eq!(lines[3], "  - APP_RATIO: not set");
        assert_eq!(
            lines[4],
            "  - APP_MODE: `reckless` is not valid: expected one of fast, careful"
        );
        assert_eq!(
            lines[5],
            "  - APP_DRY_RUN: `maybe` is not valid: expected true or false"
        );
        assert!(
            lines[6].starts_with("  - APP_NESTED: `{` is not valid: expected JSON"),
            "{}",
            lines[6]
        );
    }

    #[test]
    fn secret_looking_values_never_appear_in_errors() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Secret {
            db_password: u32,
        }
        let err =
            from_vars::<Secret, _, _, _>([("DB_PASSWORD", "hunter2")], "").expect_err("invalid");
        let text = err.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("`[redacted]` is not valid"), "{text}");
    }

    /// Parses like `url::Url` does: a refused value is quoted in the error.
    #[derive(Debug)]
    struct Quoting;

    impl<'de> Deserialize<'de> for Quoting {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let text = String::deserialize(d)?;
            if text.starts_with("ok") {
                Ok(Quoting)
            } else {
                Err(de::Error::invalid_value(
                    de::Unexpected::Str(&text),
                    &"a value starting with ok",
                ))
            }
        }
    }

    #[test]
    fn secret_values_are_not_echoed_by_reasons_or_other_variables() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Urls {
            // Optional, so that the loader can look past the first refusal.
            database_url: Option<Quoting>,
            db_pass: Option<Quoting>,
            extra: u8,
        }
        let err = from_vars::<Urls, _, _, _>(
            [
                ("DATABASE_URL", "postgres://app:hunter2@db/app"),
                ("DB_PASS", "correct-horse-battery"),
                // A non-secret variable that happens to hold a secret's value.
                ("EXTRA", "correct-horse-battery"),
            ],
            "",
        )
        .expect_err("invalid");
        let text = err.to_string();
        for secret in ["hunter2", "correct-horse-battery", "postgres://app"] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(
            text.contains(
                "DATABASE_URL: `[redacted]` is not valid: invalid value: string \"[redacted]\""
            ),
            "{text}"
        );
        assert!(text.contains("EXTRA: `[redacted]` is not valid"), "{text}");
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Props {
        db_pass: u16,
        database_url: Option<Quoting>,
        api_key: Option<Quoting>,
        client_secret: Mode,
        name: String,
        count: Option<u32>,
        nested: Option<Nested>,
        tags: Vec<u8>,
    }

    const PROP_VARS: &[&str] = &[
        "DB_PASS",
        "DATABASE_URL",
        "API_KEY",
        "CLIENT_SECRET",
        "NAME",
        "COUNT",
        "NESTED",
        "TAGS",
    ];

    fn prop_config() -> proptest::test_runner::Config {
        proptest::test_runner::Config {
            cases: std::env::var("PROPTEST_CASES")
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(128),
            ..Default::default()
        }
    }

    use proptest::prelude::*;

    proptest::proptest! {
        #![proptest_config(prop_config())]

        #[test]
        fn random_environments_never_panic_nor_leak_secret_values(
            vars in proptest::collection::vec(
                (
                    proptest::prop_oneof![
                        proptest::sample::select(PROP_VARS).prop_map(str::to_owned),
                        "[A-Z_]{1,12}",
                    ],
                    proptest::prop_oneof![
                        "[A-Za-z0-9_!@#%]{8,24}",
                        "\\PC{0,12}",
                        "[0-9]{1,6}",
                        "ok[a-z]{0,4}",
                    ],
                ),
                0..12,
            )
        ) {
            match from_vars::<Props, _, _, _>(vars.clone(), "") {
                Ok(_) => {}
                Err(err) => {
                    let text = err.to_string();
                    let map: HashMap<String, String> = vars.into_iter().collect();
                    for (name, value) in &map {
                        let value = value.trim();
                        if looks_secret(name) && value.len() >= 8 {
                            prop_assert!(!text.contains(value), "{name}={value} leaked: {text}");
                        }
                    }
                }
            }
        }
    }
}
