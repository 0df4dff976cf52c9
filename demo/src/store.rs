//! Accounts and card links, in SQLite.
//!
//! An account links at most one card and a card (its anchor and idNat; the idNat survives card
//! renewal) links to at most one account: `account_id` and `(anchor_id, id_nat)` are UNIQUE in
//! `card_links`, so the database itself refuses a second link either way. A database of an
//! earlier schema is migrated when opened (`migrate_card_links`).
//!
//! Over 600 lines with its tests (the last 190): the code is 450 lines, one concern (the two
//! tables and their invariants).

use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, SaltString};
use argon2::{Argon2, PasswordVerifier};
use rusqlite::{params, Connection, OptionalExtension};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub display_name: String,
}

/// What the site keeps of a verified card: enough to show it and to recognise it. A card is
/// recognised by (anchor, idNat): the trust anchor its certificate chains to and the holder's
/// national id, never the idNat alone (see cpx-verify's README).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LinkedCard {
    pub anchor_id: String,
    pub id_nat: String,
    pub surname: String,
    pub given_name: String,
    pub profession: Option<String>,
    pub issuer: String,
    pub serial_hex: String,
    pub not_after: SystemTime,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("cannot hash the password: {0}")]
    PasswordHash(String),
    #[error("the username {0:?} is already taken")]
    UsernameTaken(String),
    #[error("a username is 1 to 64 letters, digits, '.', '-' or '_'")]
    InvalidUsername,
    #[error("this account already has a linked card")]
    AccountAlreadyLinked,
    #[error("this card is already linked to another account")]
    CardAlreadyLinked,
    #[error("the account store lock was poisoned by a panic")]
    Poisoned,
}

pub struct AccountStore {
    connection: Mutex<Connection>,
}

/// The columns of `card_links` today: in `SCHEMA`, and in the table a migration rebuilds.
macro_rules! card_links_columns {
    () => {
        "(
    account_id  INTEGER NOT NULL UNIQUE REFERENCES accounts(id) ON DELETE CASCADE,
    anchor_id   TEXT NOT NULL,
    id_nat      TEXT NOT NULL,
    surname     TEXT NOT NULL,
    given_name  TEXT NOT NULL,
    profession  TEXT,
    issuer      TEXT NOT NULL,
    serial_hex  TEXT NOT NULL,
    not_after   INTEGER NOT NULL,
    linked_at   INTEGER NOT NULL,
    UNIQUE (anchor_id, id_nat)
)"
    };
}

const SCHEMA: &str = concat!(
    "
PRAGMA foreign_keys = ON;
CREATE TABLE IF NOT EXISTS accounts (
    id            INTEGER PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS card_links ",
    card_links_columns!(),
    ";
-- Accounts reached through an OpenID Connect provider (routes/oidc.rs): the provider's
-- (issuer, sub), the only pair OpenID Connect promises stable and unique (Core 1.0, 5.7).
CREATE TABLE IF NOT EXISTS provider_links (
    account_id INTEGER NOT NULL UNIQUE REFERENCES accounts(id) ON DELETE CASCADE,
    issuer     TEXT NOT NULL,
    subject    TEXT NOT NULL,
    linked_at  INTEGER NOT NULL,
    UNIQUE (issuer, subject)
);
"
);

impl AccountStore {
    /// Opens (creating if needed) the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::from_connection(Connection::open(path)?)
    }

    /// A database that lives as long as the store, for tests.
    pub fn open_in_memory() -> Result<Self, StoreError> {
        Self::from_connection(Connection::open_in_memory()?)
    }

    fn from_connection(connection: Connection) -> Result<Self, StoreError> {
        connection.execute_batch(SCHEMA)?;
        migrate_card_links(&connection)?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.connection.lock().map_err(|_| StoreError::Poisoned)
    }

    /// The first row `sql` finds, read by `read`, or none. The connection is held only for the
    /// query: the slow password hashing that may follow runs without it.
    fn row_if_any<T>(
        &self,
        sql: &str,
        params: impl rusqlite::Params,
        read: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, StoreError> {
        Ok(self.lock()?.query_row(sql, params, read).optional()?)
    }

    /// Creates an account. Slow on purpose (Argon2): call it off the async runtime.
    pub fn create_account(
        &self,
        username: &str,
        display_name: &str,
        password: &str,
    ) -> Result<Account, StoreError> {
        if !is_valid_username(username) {
            return Err(StoreError::InvalidUsername);
        }
        let password_hash = hash_password(password)?;
        let connection = self.lock()?;
        let inserted = connection.execute(
            "INSERT INTO accounts (username, display_name, password_hash, created_at)
             VALUES (?1, ?2, ?3, ?4)",
            params![
                username,
                display_name,
                password_hash,
                unix_seconds(SystemTime::now())
            ],
        );
        match inserted {
            Ok(_) => Ok(Account {
                id: connection.last_insert_rowid(),
                username: username.to_owned(),
                display_name: display_name.to_owned(),
            }),
            Err(error) if is_unique_violation(&error) => {
                Err(StoreError::UsernameTaken(username.to_owned()))
            }
            Err(error) => Err(error.into()),
        }
    }

    pub fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        self.row_if_any(
            "SELECT id, username, display_name FROM accounts WHERE username = ?1",
            params![username],
            account_from_row,
        )
    }

    pub fn account_by_id(&self, account_id: i64) -> Result<Option<Account>, StoreError> {
        self.row_if_any(
            "SELECT id, username, display_name FROM accounts WHERE id = ?1",
            params![account_id],
            account_from_row,
        )
    }

    /// The account if the password is right. Slow on purpose (Argon2): call it off the
    /// async runtime. An unknown username costs the same time as a wrong password, so the
    /// timing does not tell which usernames exist.
    pub fn check_password(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<Account>, StoreError> {
        let found = self.row_if_any(
            "SELECT id, username, display_name, password_hash FROM accounts WHERE username = ?1",
            params![username],
            |row| Ok((account_from_row(row)?, row.get::<_, String>(3)?)),
        )?;
        match found {
            Some((account, stored_hash)) => {
                Ok(password_matches(password, &stored_hash).then_some(account))
            }
            None => {
                // Spend the same effort on a throwaway hash.
                let _ = hash_password(password);
                Ok(None)
            }
        }
    }

    /// The password check of a signed-in account (e.g. before unlinking its card).
    pub fn check_password_of_account(
        &self,
        account_id: i64,
        password: &str,
    ) -> Result<bool, StoreError> {
        let stored_hash: Option<String> = self.row_if_any(
            "SELECT password_hash FROM accounts WHERE id = ?1",
            params![account_id],
            |row| row.get(0),
        )?;
        Ok(stored_hash.is_some_and(|hash| password_matches(password, &hash)))
    }

    /// The account linked to the card (anchor, idNat), if any.
    pub fn account_for_card(
        &self,
        anchor_id: &str,
        id_nat: &str,
    ) -> Result<Option<Account>, StoreError> {
        self.account_linked_by(LinkTable::Cards, params![anchor_id, id_nat])
    }

    pub fn card_of_account(&self, account_id: i64) -> Result<Option<LinkedCard>, StoreError> {
        self.row_if_any(
            "SELECT id_nat, surname, given_name, profession, issuer, serial_hex, not_after,
                    anchor_id
             FROM card_links WHERE account_id = ?1",
            params![account_id],
            |row| {
                Ok(LinkedCard {
                    id_nat: row.get(0)?,
                    surname: row.get(1)?,
                    given_name: row.get(2)?,
                    profession: row.get(3)?,
                    issuer: row.get(4)?,
                    serial_hex: row.get(5)?,
                    not_after: from_unix_seconds(row.get(6)?),
                    anchor_id: row.get(7)?,
                })
            },
        )
    }

    /// Links a card to an account that has none, if the card is linked nowhere.
    pub fn link_card(&self, account_id: i64, card: &LinkedCard) -> Result<(), StoreError> {
        self.link_once(
            LinkTable::Cards,
            account_id,
            params![card.anchor_id, card.id_nat],
            |transaction| {
                transaction.execute(
                    "INSERT INTO card_links (account_id, id_nat, surname, given_name, profession,
                                             issuer, serial_hex, not_after, linked_at, anchor_id)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
                    params![
                        account_id,
                        card.id_nat,
                        card.surname,
                        card.given_name,
                        card.profession,
                        card.issuer,
                        card.serial_hex,
                        unix_seconds(card.not_after),
                        unix_seconds(SystemTime::now()),
                        card.anchor_id,
                    ],
                )
            },
        )
    }

    /// The account linked to the provider's holder (issuer, sub), if any.
    pub fn account_for_provider_subject(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<Account>, StoreError> {
        self.account_linked_by(LinkTable::ProviderHolders, params![issuer, subject])
    }

    /// The account a link of this kind leads to from the identity (its key columns, bound to
    /// `identity`), if any.
    fn account_linked_by(
        &self,
        table: LinkTable,
        identity: impl rusqlite::Params,
    ) -> Result<Option<Account>, StoreError> {
        let (table_name, identity_columns) = table.name_and_identity();
        self.row_if_any(
            &format!(
                "SELECT a.id, a.username, a.display_name FROM accounts a
                 JOIN {table_name} link ON link.account_id = a.id
                 WHERE {identity_columns}"
            ),
            identity,
            account_from_row,
        )
    }

    /// The issuer of the provider whose holder is linked to the account, if any.
    pub fn provider_of_account(&self, account_id: i64) -> Result<Option<String>, StoreError> {
        self.row_if_any(
            "SELECT issuer FROM provider_links WHERE account_id = ?1",
            params![account_id],
            |row| row.get(0),
        )
    }

    /// Links the provider's holder (issuer, sub) to an account, with the rules of a card: an
    /// account is reached through one holder at most, and a holder reaches one account.
    pub fn link_provider_subject(
        &self,
        account_id: i64,
        issuer: &str,
        subject: &str,
    ) -> Result<(), StoreError> {
        self.link_once(
            LinkTable::ProviderHolders,
            account_id,
            params![issuer, subject],
            |transaction| {
                transaction.execute(
                    "INSERT INTO provider_links (account_id, issuer, subject, linked_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![account_id, issuer, subject, unix_seconds(SystemTime::now())],
                )
            },
        )
    }

    /// The rule of every link, in one transaction so that two linkings at once cannot both
    /// pass: the account has no link of this kind yet, the identity (its key columns, bound to
    /// `identity`) reaches no account yet; then `insert` records the link.
    fn link_once(
        &self,
        table: LinkTable,
        account_id: i64,
        identity: impl rusqlite::Params,
        insert: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<usize>,
    ) -> Result<(), StoreError> {
        let (table_name, identity_columns) = table.name_and_identity();
        let mut connection = self.lock()?;
        let transaction = connection.transaction()?;
        let account_has_link: bool = transaction.query_row(
            &format!("SELECT EXISTS(SELECT 1 FROM {table_name} WHERE account_id = ?1)"),
            params![account_id],
            |row| row.get(0),
        )?;
        if account_has_link {
            return Err(StoreError::AccountAlreadyLinked);
        }
        let identity_is_linked: bool = transaction.query_row(
            &format!("SELECT EXISTS(SELECT 1 FROM {table_name} WHERE {identity_columns})"),
            identity,
            |row| row.get(0),
        )?;
        if identity_is_linked {
            return Err(StoreError::CardAlreadyLinked);
        }
        insert(&transaction)?;
        transaction.commit()?;
        Ok(())
    }

    /// Records the details of the card just used: a renewed card keeps its idNat but has a
    /// new serial number and expiry, and the account page should show the current one.
    pub fn refresh_card(&self, card: &LinkedCard) -> Result<(), StoreError> {
        let connection = self.lock()?;
        connection.execute(
            "UPDATE card_links SET surname = ?2, given_name = ?3, profession = ?4, issuer = ?5,
                                   serial_hex = ?6, not_after = ?7
             WHERE id_nat = ?1 AND anchor_id = ?8",
            params![
                card.id_nat,
                card.surname,
                card.given_name,
                card.profession,
                card.issuer,
                card.serial_hex,
                unix_seconds(card.not_after),
                card.anchor_id,
            ],
        )?;
        Ok(())
    }

    /// Unlinks the account's card, and the provider's holder linked to it (both are the card:
    /// « dissocier » ends login by card whichever way it came).
    pub fn unlink_card(&self, account_id: i64) -> Result<bool, StoreError> {
        let connection = self.lock()?;
        let removed = connection.execute(
            "DELETE FROM card_links WHERE account_id = ?1",
            params![account_id],
        )? + connection.execute(
            "DELETE FROM provider_links WHERE account_id = ?1",
            params![account_id],
        )?;
        Ok(removed > 0)
    }
}

/// The two kinds of link: an account is reached by a card, or by an OpenID Connect provider's
/// holder (who logged in with a card at the provider).
#[derive(Clone, Copy)]
enum LinkTable {
    Cards,
    ProviderHolders,
}

impl LinkTable {
    /// The table, and the condition on the columns that name one identity (`?1`, `?2`).
    fn name_and_identity(self) -> (&'static str, &'static str) {
        match self {
            LinkTable::Cards => ("card_links", "anchor_id = ?1 AND id_nat = ?2"),
            LinkTable::ProviderHolders => ("provider_links", "issuer = ?1 AND subject = ?2"),
        }
    }
}

/// The table a migration rebuilds `card_links` into.
const CARD_LINKS_TABLE: &str = concat!("CREATE TABLE card_links_new ", card_links_columns!(), ";");

/// A database of an earlier schema: `card_links` without `anchor_id`, or with the first
/// release's `id_nat UNIQUE` (a card was then the idNat alone; now it is (anchor, idNat), and
/// the same idNat under another anchor is another card). SQLite cannot drop a constraint, so
/// the table is rebuilt, in one transaction: the links are kept, those without an anchor with
/// anchor `''`, which matches no card (each user links their card again once).
fn migrate_card_links(connection: &Connection) -> Result<(), StoreError> {
    let has_anchor: bool = connection.query_row(
        "SELECT EXISTS(SELECT 1 FROM pragma_table_info('card_links') WHERE name = 'anchor_id')",
        [],
        |row| row.get(0),
    )?;
    // A unique index on id_nat alone (the column constraint makes one, `sqlite_autoindex_*`).
    let id_nat_alone_unique: bool = connection.query_row(
        "SELECT EXISTS(
             SELECT 1 FROM pragma_index_list('card_links') AS list
             WHERE list.\"unique\" = 1
               AND (SELECT COUNT(*) FROM pragma_index_info(list.name)) = 1
               AND (SELECT name FROM pragma_index_info(list.name)) = 'id_nat')",
        [],
        |row| row.get(0),
    )?;
    if has_anchor && !id_nat_alone_unique {
        return Ok(());
    }
    let anchor = if has_anchor { "anchor_id" } else { "''" };
    // Foreign keys off while the table is replaced (SQLite's documented procedure; the pragma
    // has no effect inside a transaction).
    connection.execute_batch("PRAGMA foreign_keys = OFF;")?;
    let rebuilt = connection.execute_batch(&format!(
        "BEGIN IMMEDIATE;
         {CARD_LINKS_TABLE}
         INSERT INTO card_links_new (account_id, anchor_id, id_nat, surname, given_name,
                                     profession, issuer, serial_hex, not_after, linked_at)
             SELECT account_id, {anchor}, id_nat, surname, given_name, profession, issuer,
                    serial_hex, not_after, linked_at
             FROM card_links;
         DROP TABLE card_links;
         ALTER TABLE card_links_new RENAME TO card_links;
         COMMIT;"
    ));
    if rebuilt.is_err() {
        let _ = connection.execute_batch("ROLLBACK;");
    }
    connection.execute_batch("PRAGMA foreign_keys = ON;")?;
    Ok(rebuilt?)
}

fn account_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(0)?,
        username: row.get(1)?,
        display_name: row.get(2)?,
    })
}

/// 1 to 64 ASCII letters, digits, '.', '-' or '_': the names accounts can have.
pub fn is_valid_username(username: &str) -> bool {
    (1..=64).contains(&username.len())
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(failure, _)
            if failure.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|error| StoreError::PasswordHash(error.to_string()))
}

fn password_matches(password: &str, stored_hash: &str) -> bool {
    PasswordHash::new(stored_hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
}

fn unix_seconds(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(since) => i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        Err(before) => -i64::try_from(before.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

fn from_unix_seconds(seconds: i64) -> SystemTime {
    let magnitude = Duration::from_secs(seconds.unsigned_abs());
    if seconds >= 0 {
        UNIX_EPOCH + magnitude
    } else {
        UNIX_EPOCH - magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id_nat: &str) -> LinkedCard {
        LinkedCard {
            anchor_id: "aa".repeat(32),
            id_nat: id_nat.to_owned(),
            surname: "DUPONT".to_owned(),
            given_name: "MARIE".to_owned(),
            profession: Some("Médecin".to_owned()),
            issuer: "CN=TEST AC".to_owned(),
            serial_hex: "01".to_owned(),
            not_after: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        }
    }

    #[test]
    fn password_check_and_duplicate_usernames() -> Result<(), StoreError> {
        let store = AccountStore::open_in_memory()?;
        let created = store.create_account("marie.dupont", "Marie Dupont", "demo1234")?;
        assert_eq!(
            store.check_password("marie.dupont", "demo1234")?,
            Some(created)
        );
        assert_eq!(store.check_password("marie.dupont", "demo12345")?, None);
        assert_eq!(store.check_password("nobody", "demo1234")?, None);
        assert!(matches!(
            store.create_account("marie.dupont", "Autre", "x"),
            Err(StoreError::UsernameTaken(_))
        ));
        assert!(matches!(
            store.create_account("marie dupont", "Autre", "x"),
            Err(StoreError::InvalidUsername)
        ));
        Ok(())
    }

    #[test]
    fn one_card_per_account_and_one_account_per_card() -> Result<(), StoreError> {
        let store = AccountStore::open_in_memory()?;
        let marie = store.create_account("marie", "Marie", "pw")?;
        let pierre = store.create_account("pierre", "Pierre", "pw")?;
        store.link_card(marie.id, &card("810001234567"))?;
        assert_eq!(
            store.account_for_card(&"aa".repeat(32), "810001234567")?,
            Some(marie.clone())
        );
        assert_eq!(store.card_of_account(marie.id)?, Some(card("810001234567")));
        assert!(matches!(
            store.link_card(marie.id, &card("810009876543")),
            Err(StoreError::AccountAlreadyLinked)
        ));
        assert!(matches!(
            store.link_card(pierre.id, &card("810001234567")),
            Err(StoreError::CardAlreadyLinked)
        ));
        assert!(store.unlink_card(marie.id)?);
        assert!(!store.unlink_card(marie.id)?);
        assert_eq!(
            store.account_for_card(&"aa".repeat(32), "810001234567")?,
            None
        );
        store.link_card(pierre.id, &card("810001234567"))?;
        assert_eq!(
            store.account_for_card(&"aa".repeat(32), "810001234567")?,
            Some(pierre)
        );
        Ok(())
    }

    #[test]
    fn one_provider_holder_per_account_and_one_account_per_holder() -> Result<(), StoreError> {
        let store = AccountStore::open_in_memory()?;
        let marie = store.create_account("marie", "Marie", "pw")?;
        let pierre = store.create_account("pierre", "Pierre", "pw")?;
        let idp = "https://idp.example";
        store.link_provider_subject(marie.id, idp, "sub-marie")?;
        let found = store.account_for_provider_subject(idp, "sub-marie")?;
        assert_eq!(found.map(|account| account.id), Some(marie.id));
        assert_eq!(store.provider_of_account(marie.id)?.as_deref(), Some(idp));
        assert_eq!(store.provider_of_account(pierre.id)?, None);
        // The same sub from another issuer is another holder.
        assert!(store
            .account_for_provider_subject("https://other.example", "sub-marie")?
            .is_none());
        assert!(matches!(
            store.link_provider_subject(marie.id, idp, "sub-other"),
            Err(StoreError::AccountAlreadyLinked)
        ));
        assert!(matches!(
            store.link_provider_subject(pierre.id, idp, "sub-marie"),
            Err(StoreError::CardAlreadyLinked)
        ));
        // « Dissocier » ends the provider's link too.
        assert!(store.unlink_card(marie.id)?);
        assert!(store
            .account_for_provider_subject(idp, "sub-marie")?
            .is_none());
        Ok(())
    }

    #[test]
    fn refresh_records_a_renewed_card() -> Result<(), StoreError> {
        let store = AccountStore::open_in_memory()?;
        let marie = store.create_account("marie", "Marie", "pw")?;
        store.link_card(marie.id, &card("810001234567"))?;
        let renewed = LinkedCard {
            serial_hex: "02".to_owned(),
            not_after: UNIX_EPOCH + Duration::from_secs(2_100_000_000),
            ..card("810001234567")
        };
        store.refresh_card(&renewed)?;
        assert_eq!(store.card_of_account(marie.id)?, Some(renewed));
        Ok(())
    }

    #[test]
    fn the_same_idnat_under_another_anchor_is_another_card() -> Result<(), StoreError> {
        let store = AccountStore::open_in_memory()?;
        let marie = store.create_account("marie", "Marie", "pw")?;
        let mallory = store.create_account("mallory", "Mallory", "pw")?;
        store.link_card(marie.id, &card("810001234567"))?;
        let forged = LinkedCard {
            anchor_id: "bb".repeat(32),
            ..card("810001234567")
        };
        assert_eq!(
            store.account_for_card(&forged.anchor_id, &forged.id_nat)?,
            None
        );
        store.link_card(mallory.id, &forged)?;
        assert_eq!(
            store.account_for_card(&"aa".repeat(32), "810001234567")?,
            Some(marie)
        );
        Ok(())
    }

    #[test]
    fn unlinking_needs_the_account_password() -> Result<(), StoreError> {
        let store = AccountStore::open_in_memory()?;
        let marie = store.create_account("marie", "Marie", "pw")?;
        assert!(store.check_password_of_account(marie.id, "pw")?);
        assert!(!store.check_password_of_account(marie.id, "wrong")?);
        assert!(!store.check_password_of_account(marie.id + 1, "pw")?);
        Ok(())
    }

    /// The schema of the first release: `id_nat` UNIQUE on its own, no anchor.
    const FIRST_SCHEMA: &str = "
        CREATE TABLE accounts (
            id            INTEGER PRIMARY KEY,
            username      TEXT NOT NULL UNIQUE,
            display_name  TEXT NOT NULL,
            password_hash TEXT NOT NULL,
            created_at    INTEGER NOT NULL
        );
        CREATE TABLE card_links (
            account_id  INTEGER NOT NULL UNIQUE REFERENCES accounts(id) ON DELETE CASCADE,
            id_nat      TEXT NOT NULL UNIQUE,
            surname     TEXT NOT NULL,
            given_name  TEXT NOT NULL,
            profession  TEXT,
            issuer      TEXT NOT NULL,
            serial_hex  TEXT NOT NULL,
            not_after   INTEGER NOT NULL,
            linked_at   INTEGER NOT NULL
        );";

    #[test]
    fn a_database_of_the_first_schema_loses_its_id_nat_only_constraint() -> Result<(), StoreError> {
        let directory =
            tempfile::tempdir().map_err(|error| StoreError::PasswordHash(error.to_string()))?;
        let path = directory.path().join("old.sqlite");
        {
            let old = Connection::open(&path)?;
            old.execute_batch(FIRST_SCHEMA)?;
            old.execute(
                "INSERT INTO accounts (id, username, display_name, password_hash, created_at)
                 VALUES (1, 'marie', 'Marie', 'x', 0), (2, 'pierre', 'Pierre', 'x', 0)",
                [],
            )?;
            old.execute(
                "INSERT INTO card_links VALUES (1, '810001234567', 'DUPONT', 'MARIE', NULL,
                                                'CN=OLD', '01', 2000000000, 0)",
                [],
            )?;
        }
        let store = AccountStore::open(&path)?;
        // The old link is kept (anchor '': it matches no card until linked again)...
        let kept = store.card_of_account(1)?;
        assert_eq!(
            kept.map(|card| (card.anchor_id, card.id_nat)),
            Some((String::new(), "810001234567".to_owned()))
        );
        // ...and the same idNat under a real anchor links to another account: (anchor, idNat)
        // is the key now, not idNat alone.
        store.link_card(2, &card("810001234567"))?;
        assert_eq!(
            store
                .account_for_card(&"aa".repeat(32), "810001234567")?
                .map(|account| account.id),
            Some(2)
        );
        // (anchor, idNat) stays unique.
        let third = store.create_account("paul", "Paul", "pw")?;
        assert!(matches!(
            store.link_card(third.id, &card("810001234567")),
            Err(StoreError::CardAlreadyLinked)
        ));
        // Opening it again changes nothing, and deleting an account still drops its link.
        drop(store);
        let store = AccountStore::open(&path)?;
        store
            .lock()?
            .execute("DELETE FROM accounts WHERE id = 1", [])?;
        assert_eq!(store.card_of_account(1)?, None);
        assert!(store.card_of_account(2)?.is_some());
        Ok(())
    }
}
