//! A serde Deserializer over binary jsonb (`jsonb_read`): a type's Deserialize impl reads
//! it as it would read the text jsonb_out prints for it with serde_json, making the same
//! visitor calls: strings as borrowed str, numbers as u64, i64 or f64 the way serde_json
//! parses their text, null as unit (none for an Option), arrays as sequences, objects as
//! maps in jsonb's key order. Its errors carry no position; callers that report errors take
//! the text path for the message.
use serde::de::{self, DeserializeSeed, Visitor};

use super::jsonb_format::SerdeError;
use super::jsonb_read::{numeric_text, Item, Items, MAX_NESTED_CONTAINERS};

type Error = SerdeError;

fn unreadable() -> Error {
    SerdeError("unreadable jsonb".to_owned())
}

pub struct Deserializer<'a> {
    item: Item<'a>,
    /// The containers around this value.
    depth: usize,
}

impl<'a> Deserializer<'a> {
    pub fn new(item: Item<'a>) -> Self {
        Deserializer { item, depth: 0 }
    }

    /// The depth of this container's elements.
    fn inner_depth(&self) -> Result<usize, Error> {
        if self.depth >= MAX_NESTED_CONTAINERS {
            return Err(SerdeError("recursion limit exceeded".to_owned()));
        }
        Ok(self.depth + 1)
    }
}

impl<'de> de::Deserializer<'de> for Deserializer<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.item {
            Item::Null => visitor.visit_unit(),
            Item::Bool(b) => visitor.visit_bool(b),
            Item::String(s) => visitor.visit_borrowed_str(std::str::from_utf8(s).map_err(|_| unreadable())?),
            Item::Numeric(n) => {
                // serde_json's own parse of the number's text decides its kind.
                let text = numeric_text(n).map_err(|_| unreadable())?;
                let number: serde_json::Number = text.parse().map_err(|_| unreadable())?;
                if let Some(u) = number.as_u64() {
                    visitor.visit_u64(u)
                } else if let Some(i) = number.as_i64() {
                    visitor.visit_i64(i)
                } else {
                    visitor.visit_f64(number.as_f64().ok_or_else(unreadable)?)
                }
            }
            Item::Array(c) => {
                let depth = self.inner_depth()?;
                visitor.visit_seq(Seq { items: c.items(0), left: c.len(), depth })
            }
            Item::Object(c) => {
                let depth = self.inner_depth()?;
                let keys = c.items(0).take(c.len());
                visitor.visit_map(Map { keys, values: c.items(c.len()), left: c.len(), depth })
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.item {
            Item::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    /// Externally tagged enums are left to the text path (bel's types have none: their
    /// enums are read from strings or numbers through deserialize_any).
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Error> {
        Err(SerdeError("enums are read from the text".to_owned()))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf unit
        unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct Seq<'a> {
    items: Items<'a>,
    left: usize,
    /// Of the elements.
    depth: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.next() else { return Ok(None) };
        self.left = self.left.saturating_sub(1);
        let item = item.map_err(|_| unreadable())?;
        seed.deserialize(Deserializer { item, depth: self.depth }).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}

struct Map<'a> {
    keys: std::iter::Take<Items<'a>>,
    values: Items<'a>,
    left: usize,
    /// Of the elements.
    depth: usize,
}

impl<'de> de::MapAccess<'de> for Map<'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        let Some(key) = self.keys.next() else { return Ok(None) };
        self.left = self.left.saturating_sub(1);
        match key.map_err(|_| unreadable())? {
            key @ Item::String(_) => seed.deserialize(Deserializer { item: key, depth: self.depth }).map(Some),
            _ => Err(unreadable()),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let value = self.values.next().ok_or_else(unreadable)?.map_err(|_| unreadable())?;
        seed.deserialize(Deserializer { item: value, depth: self.depth })
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.left)
    }
}
