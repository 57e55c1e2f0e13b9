//! The simulated org: a static schema of the objects the audit reads, and the
//! records of one org loaded from (or written to) a folder of NDJSON files.
//!
//! The schema is the single source of truth for three things: which fields a
//! record on disk may hold (anything else is a load error naming file, line
//! and field), which SOQL field paths resolve (see `soql.rs`), and from which
//! API version each object and field exists. Records are kept exactly as a
//! Salesforce REST query would return them minus `attributes`: field order is
//! preserved, and child-to-parent relationships are nested objects (or `null`).
//! Values are type-checked on load (ids are 18-character, booleans are JSON
//! booleans, datetimes are `2024-01-15T10:20:30.000+0000`, dates
//! `2024-01-15`, integers JSON integers) so a fixture can never hold something
//! real Salesforce would not send.
//!
//! Managed packages: the objects of Certinia PSA (namespace `pse`) and
//! Accounting (`c2g`), and the fields PSA adds to `Contact`, exist only in an
//! org that has the package installed, which is an org that holds any object
//! of its namespace (a `pse__Permission_Control__c.ndjson` file, even an empty
//! one). [`Org::uninstall`] removes a package; a record holding a field of a
//! package the org does not have is a load error.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, bail};
use serde_json::{Map, Value};

/// One record: field name → value, in file (and therefore response) order.
pub type Record = Map<String, Value>;

/// The JSON shape a field holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// An 18-character record id (or null).
    Id,
    /// A string (or null).
    Text,
    /// A JSON boolean (or null).
    Boolean,
    /// A string `YYYY-MM-DDTHH:MM:SS.mmm+0000` (or null).
    DateTime,
    /// A string `YYYY-MM-DD` (or null).
    Date,
    /// A JSON integer (or null), e.g. `TotalLicenses` (`-1` for a site licence).
    Integer,
    /// A child-to-parent relationship: a nested record of `target` (or null).
    /// `id_field` names the lookup field of the same record that holds the
    /// parent's id (`ProfileId` for `Profile`); the schema need not list it
    /// (`Profile.UserLicenseId` is not), in which case nothing is checked and
    /// the nested record's `attributes.url` is left out unless it has an `Id`.
    Relationship { target: &'static str, id_field: &'static str },
}

/// One field of an object.
#[derive(Debug)]
pub struct FieldDef {
    /// Canonical API name (SOQL matches it case-insensitively).
    pub name: &'static str,
    /// API version (major) that introduced the field; 0 = all versions.
    pub since: u32,
    pub ty: FieldType,
    /// The namespace of the managed package that adds this field to a standard object (PSA's
    /// `pse__Salesforce_User__c` on `Contact`); the field exists only where it is installed.
    pub package: Option<&'static str>,
}

/// One object of the schema.
#[derive(Debug)]
pub struct ObjectDef {
    /// Canonical API name.
    pub name: &'static str,
    /// API version (major) that introduced the object; 0 = all versions.
    pub since: u32,
    /// Whether the simulator serves `SELECT ... FROM <name>` and loads
    /// `<name>.ndjson`. Objects that are not queryable exist only as the
    /// target of a relationship (e.g. `Profile` under `User.Profile`).
    pub queryable: bool,
    /// The namespace of the managed package the object belongs to (`pse`, `c2g`); it exists only
    /// in an org that has that package installed.
    pub package: Option<&'static str>,
    pub fields: &'static [FieldDef],
}

impl ObjectDef {
    /// The field named `name` (case-insensitive), whatever its version.
    pub fn field(&self, name: &str) -> Option<&'static FieldDef> {
        let fields: &'static [FieldDef] = self.fields;
        fields.iter().find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// The field named `name` (case-insensitive) if it exists at `version`.
    pub fn field_at(&self, name: &str, version: u32) -> Option<&'static FieldDef> {
        self.field(name).filter(|f| f.since <= version)
    }
}

const fn f(name: &'static str, ty: FieldType) -> FieldDef {
    FieldDef { name, since: 0, ty, package: None }
}

const fn fv(name: &'static str, since: u32, ty: FieldType) -> FieldDef {
    FieldDef { name, since, ty, package: None }
}

const fn rel(name: &'static str, target: &'static str, id_field: &'static str) -> FieldDef {
    FieldDef { name, since: 0, ty: FieldType::Relationship { target, id_field }, package: None }
}

/// A field a managed package adds to a standard object.
const fn pf(name: &'static str, ty: FieldType, package: &'static str) -> FieldDef {
    FieldDef { name, since: 0, ty, package: Some(package) }
}

/// An object of the schema (not of a package).
const fn standard(name: &'static str, since: u32, queryable: bool, fields: &'static [FieldDef]) -> ObjectDef {
    ObjectDef { name, since, queryable, package: None, fields }
}

/// An object of a managed package.
const fn packaged(
    name: &'static str,
    package: &'static str,
    queryable: bool,
    fields: &'static [FieldDef],
) -> ObjectDef {
    ObjectDef { name, since: 0, queryable, package: Some(package), fields }
}

use FieldType::{Boolean, Date, DateTime, Id, Integer, Text};

/// The namespace of Certinia PSA.
pub const PSA: &str = "pse";
/// The namespace of Certinia Accounting.
pub const ACCOUNTING: &str = "c2g";

const PERMISSION_SET_FIELDS: &[FieldDef] = &[
    f("Id", Id),
    f("Name", Text),
    f("Label", Text),
    fv("NamespacePrefix", 23, Text),
    fv("IsOwnedByProfile", 25, Boolean),
    f("Type", Text),
    fv("PermissionSetGroupId", 45, Id),
];

/// The whole schema: queryable objects first, then relationship-only targets.
pub static SCHEMA: &[ObjectDef] = &[
    standard(
        "Organization",
        0,
        true,
        &[f("Id", Id), f("Name", Text), f("InstanceName", Text), f("IsSandbox", Boolean), f("OrganizationType", Text)],
    ),
    standard(
        "User",
        0,
        true,
        &[
            f("Id", Id),
            f("Username", Text),
            f("Name", Text),
            f("FirstName", Text),
            f("LastName", Text),
            f("Email", Text),
            f("IsActive", Boolean),
            f("UserType", Text),
            f("ProfileId", Id),
            rel("Profile", "Profile", "ProfileId"),
            f("UserRoleId", Id),
            rel("UserRole", "UserRole", "UserRoleId"),
            f("Department", Text),
            f("Title", Text),
            f("FederationIdentifier", Text),
            f("CreatedDate", DateTime),
            f("LastLoginDate", DateTime),
            f("ManagerId", Id),
            rel("Manager", "User", "ManagerId"),
        ],
    ),
    standard(
        "PermissionSetAssignment",
        22,
        true,
        &[
            f("Id", Id),
            f("AssigneeId", Id),
            f("PermissionSetId", Id),
            rel("PermissionSet", "PermissionSet", "PermissionSetId"),
            fv("PermissionSetGroupId", 45, Id),
            fv("IsActive", 52, Boolean),
            fv("ExpirationDate", 52, DateTime),
        ],
    ),
    standard(
        "PermissionSetGroup",
        45,
        true,
        &[f("Id", Id), f("DeveloperName", Text), f("MasterLabel", Text), f("NamespacePrefix", Text), f("Status", Text)],
    ),
    standard(
        "PermissionSetGroupComponent",
        45,
        true,
        &[
            f("Id", Id),
            f("PermissionSetGroupId", Id),
            f("PermissionSetId", Id),
            rel("PermissionSet", "PermissionSet", "PermissionSetId"),
        ],
    ),
    standard(
        "UserPackageLicense",
        31,
        true,
        &[
            f("Id", Id),
            f("UserId", Id),
            f("PackageLicenseId", Id),
            rel("PackageLicense", "PackageLicense", "PackageLicenseId"),
        ],
    ),
    standard(
        "UserLogin",
        29,
        true,
        &[f("Id", Id), f("UserId", Id), f("IsFrozen", Boolean), f("IsPasswordLocked", Boolean)],
    ),
    // Queryable too: its rows are the permission sets stored here plus every distinct one an
    // assignment or a group component names (see `SimState::records`).
    ObjectDef { name: "PermissionSet", since: 22, queryable: true, package: None, fields: PERMISSION_SET_FIELDS },
    standard(
        "PermissionSetLicense",
        29,
        true,
        &[
            f("Id", Id),
            f("DeveloperName", Text),
            f("MasterLabel", Text),
            f("PermissionSetLicenseKey", Text),
            f("Status", Text),
            f("TotalLicenses", Integer),
            f("UsedLicenses", Integer),
            f("ExpirationDate", Date),
        ],
    ),
    standard(
        "PermissionSetLicenseAssign",
        29,
        true,
        &[
            f("Id", Id),
            f("AssigneeId", Id),
            f("PermissionSetLicenseId", Id),
            rel("PermissionSetLicense", "PermissionSetLicense", "PermissionSetLicenseId"),
        ],
    ),
    standard(
        "PackageLicense",
        31,
        true,
        &[
            f("Id", Id),
            f("NamespacePrefix", Text),
            f("Status", Text),
            f("AllowedLicenses", Integer),
            f("UsedLicenses", Integer),
            f("ExpirationDate", DateTime),
            f("IsProvisioned", Boolean),
        ],
    ),
    standard(
        "Contact",
        0,
        true,
        &[
            f("Id", Id),
            f("Name", Text),
            f("FirstName", Text),
            f("LastName", Text),
            f("Email", Text),
            pf("pse__Salesforce_User__c", Id, PSA),
            pf("pse__Is_Resource__c", Boolean, PSA),
            pf("pse__Is_Resource_Active__c", Boolean, PSA),
            pf("pse__Start_Date__c", Date, PSA),
        ],
    ),
    packaged(
        "pse__Permission_Control__c",
        PSA,
        true,
        &[
            f("Id", Id),
            f("Name", Text),
            f("pse__User__c", Id),
            rel("pse__User__r", "User", "pse__User__c"),
            f("pse__Resource__c", Id),
            rel("pse__Resource__r", "Contact", "pse__Resource__c"),
            f("pse__Region__c", Id),
            rel("pse__Region__r", "pse__Region__c", "pse__Region__c"),
            f("pse__Practice__c", Id),
            rel("pse__Practice__r", "pse__Practice__c", "pse__Practice__c"),
            f("pse__Group__c", Id),
            rel("pse__Group__r", "pse__Grp__c", "pse__Group__c"),
            f("pse__Project__c", Id),
            rel("pse__Project__r", "pse__Proj__c", "pse__Project__c"),
            f("pse__Opportunity__c", Id),
            rel("pse__Opportunity__r", "Opportunity", "pse__Opportunity__c"),
            f("pse__Cascading_Permission__c", Boolean),
            f("pse__Start_Date__c", Date),
            f("pse__End_Date__c", Date),
            f("pse__Timecard_Entry__c", Boolean),
            f("pse__Expense_Entry__c", Boolean),
            f("pse__Billing__c", Boolean),
            f("pse__Resource_Request_Entry__c", Boolean),
        ],
    ),
    packaged(
        "c2g__codaUserCompany__c",
        ACCOUNTING,
        true,
        &[
            f("Id", Id),
            f("Name", Text),
            f("c2g__User__c", Id),
            rel("c2g__User__r", "User", "c2g__User__c"),
            f("c2g__Company__c", Id),
            rel("c2g__Company__r", "c2g__codaCompany__c", "c2g__Company__c"),
            f("c2g__UseLocalAccount__c", Boolean),
        ],
    ),
    // Relationship targets only (their records live nested in the above).
    standard("Profile", 0, false, &[f("Name", Text), rel("UserLicense", "UserLicense", "UserLicenseId")]),
    standard("UserLicense", 0, false, &[f("Name", Text)]),
    standard("UserRole", 0, false, &[f("Name", Text)]),
    standard("Opportunity", 0, false, &[f("Name", Text)]),
    packaged("pse__Region__c", PSA, false, &[f("Name", Text)]),
    packaged("pse__Practice__c", PSA, false, &[f("Name", Text)]),
    packaged("pse__Grp__c", PSA, false, &[f("Name", Text)]),
    packaged("pse__Proj__c", PSA, false, &[f("Name", Text)]),
    packaged("c2g__codaCompany__c", ACCOUNTING, false, &[f("Name", Text)]),
];

/// What one user of one org sees of the schema: the managed packages the org has installed, and
/// the objects and fields its permissions hide (an object without Read is not in its list of
/// objects and cannot be queried; a field that field-level security hides is no column of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct View {
    /// Namespaces of the installed packages.
    pub packages: BTreeSet<String>,
    /// Objects the user cannot see (canonical names).
    pub hidden_objects: BTreeSet<String>,
    /// Fields the user cannot see: (object, field), canonical names.
    pub hidden_fields: BTreeSet<(String, String)>,
}

impl View {
    /// Every object and field, PSA and Accounting installed.
    pub fn everything() -> View {
        View { packages: [PSA, ACCOUNTING].map(String::from).into(), ..View::default() }
    }

    /// Whether the object exists in the org and the user sees it.
    pub fn sees_object(&self, def: &ObjectDef) -> bool {
        def.package.is_none_or(|p| self.packages.contains(p)) && !self.hidden_objects.contains(def.name)
    }

    /// Whether a field of `owner` exists in the org and the user sees it.
    pub fn sees_field(&self, owner: &ObjectDef, field: &FieldDef) -> bool {
        field.package.or(owner.package).is_none_or(|p| self.packages.contains(p))
            && !self.hidden_fields.iter().any(|(o, f)| o == owner.name && f == field.name)
    }
}

/// The object with this exact (canonical) name.
pub fn object(name: &str) -> Option<&'static ObjectDef> {
    SCHEMA.iter().find(|o| o.name == name)
}

/// The object with this name, compared case-insensitively as SOQL does.
pub fn object_ci(name: &str) -> Option<&'static ObjectDef> {
    SCHEMA.iter().find(|o| o.name.eq_ignore_ascii_case(name))
}

/// Names of the objects that can be queried and loaded, in schema order.
pub fn queryable_objects() -> impl Iterator<Item = &'static str> {
    SCHEMA.iter().filter(|o| o.queryable).map(|o| o.name)
}

/// Whether `s` has the shape of an 18-character Salesforce id.
pub fn is_sf_id(s: &str) -> bool {
    s.len() == 18 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Whether `s` is a REST date: `2024-01-15`.
pub fn is_sf_date(s: &str) -> bool {
    s.len() == 10
        && s.bytes().enumerate().all(|(i, b)| if i == 4 || i == 7 { b == b'-' } else { b.is_ascii_digit() })
        && chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok()
}

/// Whether `s` is a REST datetime: `2024-01-15T10:20:30.000+0000`.
pub fn is_sf_datetime(s: &str) -> bool {
    s.len() == 28
        && s.ends_with("+0000")
        && s.as_bytes()[19] == b'.'
        && s[20..23].bytes().all(|b| b.is_ascii_digit())
        && chrono::NaiveDateTime::parse_from_str(&s[..19], "%Y-%m-%dT%H:%M:%S").is_ok()
}

/// Checks one record of `def`; `top_level` records must carry an `Id`; a field of a package
/// (`installed` says which are) must be of an installed one.
/// The error names the offending field path.
fn validate_record(def: &ObjectDef, rec: &Record, top_level: bool, installed: &Installed<'_>) -> Result<(), String> {
    for (key, value) in rec {
        if key == "attributes" {
            return Err("holds an `attributes` key: store records without `attributes`, the simulator adds them".into());
        }
        let Some(field) = def.fields.iter().find(|f| f.name == key) else {
            let hint = def
                .fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(key))
                .map(|f| format!(" (did you mean `{}`? field names are case-sensitive on disk)", f.name))
                .unwrap_or_default();
            let known: Vec<&str> = def.fields.iter().map(|f| f.name).collect();
            return Err(format!(
                "field `{key}` is not a field of {} in the sf-sim schema{hint}; known fields: {}",
                def.name,
                known.join(", ")
            ));
        };
        if let Some(package) = field.package.or(def.package)
            && !installed(package)
        {
            return Err(format!(
                "field `{key}` of {} belongs to the managed package `{package}`, which this org does not have \
                 (an org has a package when it holds an object of its namespace)",
                def.name
            ));
        }
        let bad =
            |expected: &str| Err(format!("field `{key}` of {} must be {expected} or null, found {value}", def.name));
        match (field.ty, value) {
            (_, Value::Null) => {}
            (Id, Value::String(s)) if is_sf_id(s) => {}
            (Id, _) => return bad("an 18-character Salesforce id string"),
            (Text, Value::String(_)) => {}
            (Text, _) => return bad("a string"),
            (Boolean, Value::Bool(_)) => {}
            (Boolean, _) => return bad("a JSON boolean"),
            (DateTime, Value::String(s)) if is_sf_datetime(s) => {}
            (DateTime, _) => return bad("a datetime string like \"2024-01-15T10:20:30.000+0000\""),
            (Date, Value::String(s)) if is_sf_date(s) => {}
            (Date, _) => return bad("a date string like \"2024-01-15\""),
            (Integer, Value::Number(n)) if n.is_i64() => {}
            (Integer, _) => return bad("a JSON integer"),
            (FieldType::Relationship { target, id_field }, Value::Object(nested)) => {
                let target_def = object(target).expect("schema relationship targets exist");
                validate_record(target_def, nested, false, installed).map_err(|e| format!("{key}: {e}"))?;
                if let (Some(Value::String(nested_id)), Some(Value::String(own_id))) =
                    (nested.get("Id"), rec.get(id_field))
                    && nested_id != own_id
                {
                    return Err(format!("`{key}.Id` ({nested_id}) differs from `{id_field}` ({own_id})"));
                }
            }
            (FieldType::Relationship { target, .. }, _) => {
                return bad(&format!("a nested {target} object"));
            }
        }
    }
    if top_level && !matches!(rec.get("Id"), Some(Value::String(_))) {
        return Err(format!("{} record has no `Id`", def.name));
    }
    Ok(())
}

/// Whether the org has a managed package, by namespace.
type Installed<'a> = dyn Fn(&str) -> bool + 'a;

/// The namespaces of the packages an org holding `objects` has installed.
fn installed_packages<'a>(objects: impl Iterator<Item = &'a String>) -> BTreeSet<&'static str> {
    objects.filter_map(|name| object(name).and_then(|d| d.package)).collect()
}

/// Checks the records of one object: schema, value types, packages and unique ids.
/// `locate(i)` names record `i` in error messages (file:line or index).
fn validate_object(
    name: &str,
    records: &[Record],
    installed: &Installed<'_>,
    locate: impl Fn(usize) -> String,
) -> anyhow::Result<()> {
    let def = queryable_def(name)?;
    let mut ids = HashSet::with_capacity(records.len());
    for (i, rec) in records.iter().enumerate() {
        validate_record(def, rec, true, installed).map_err(|e| anyhow::anyhow!("{}: {e}", locate(i)))?;
        if let Some(Value::String(id)) = rec.get("Id")
            && !ids.insert(id.as_str())
        {
            bail!("{}: duplicate {name} Id {id}", locate(i));
        }
    }
    Ok(())
}

fn queryable_def(name: &str) -> anyhow::Result<&'static ObjectDef> {
    match object(name) {
        Some(def) if def.queryable => Ok(def),
        _ => {
            let known: Vec<&str> = queryable_objects().collect();
            bail!(
                "`{name}` is not an object the simulator stores (known: {}; names are case-sensitive)",
                known.join(", ")
            )
        }
    }
}

/// An org: for each queryable object, its records in query order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Org {
    objects: BTreeMap<String, Vec<Record>>,
}

impl Org {
    /// An org with no records at all.
    pub fn empty() -> Org {
        Org::default()
    }

    /// Loads every `<Object>.ndjson` in `path` (other files are ignored; a
    /// missing object file means no records of that object). Fails on an
    /// `.ndjson` file of an unknown object, a line that is not a JSON object,
    /// a field not in the schema, a value of the wrong type or a duplicate Id.
    pub fn load_dir(path: &Path) -> anyhow::Result<Org> {
        let mut entries: Vec<_> = fs::read_dir(path)
            .with_context(|| format!("reading org folder {}", path.display()))?
            .collect::<Result<_, _>>()
            .with_context(|| format!("reading org folder {}", path.display()))?;
        entries.sort_by_key(|e| e.file_name());
        let mut read = Vec::new();
        for entry in entries {
            let file = entry.path();
            let Some(name) = file.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            let Some(object) = name.strip_suffix(".ndjson") else {
                continue;
            };
            queryable_def(object).with_context(|| format!("{}", file.display()))?;
            let records = read_ndjson(&file)?;
            read.push((object.to_string(), file, records));
        }
        let packages = installed_packages(read.iter().map(|(object, _, _)| object));
        let installed = |p: &str| packages.contains(p);
        let mut objects = BTreeMap::new();
        for (object, file, records) in read {
            // Lines are 1-based and may include skipped blank lines, so keep
            // the line number of each record for messages.
            let lines: Vec<usize> = records.iter().map(|(line, _)| *line).collect();
            let records: Vec<Record> = records.into_iter().map(|(_, r)| r).collect();
            validate_object(&object, &records, &installed, |i| format!("{}:{}", file.display(), lines[i]))?;
            objects.insert(object, records);
        }
        Ok(Org { objects })
    }

    /// Builds an org from records in memory, validated as `load_dir` does.
    pub fn from_objects(map: BTreeMap<String, Vec<Record>>) -> anyhow::Result<Org> {
        let org = Org { objects: map };
        org.validate()?;
        Ok(org)
    }

    /// Checks the org against the schema again (e.g. after `objects_mut`).
    pub fn validate(&self) -> anyhow::Result<()> {
        let installed = |p: &str| self.has_package(p);
        for (name, records) in &self.objects {
            validate_object(name, records, &installed, |i| format!("{name} record #{}", i + 1))?;
        }
        Ok(())
    }

    /// Whether the org has the managed package of namespace `package` (`pse`, `c2g`) installed:
    /// whether it holds any object of it (even one without records).
    pub fn has_package(&self, package: &str) -> bool {
        installed_packages(self.objects.keys()).contains(package)
    }

    /// Uninstalls a managed package: its objects go, and so do the fields it added to the
    /// records of standard objects (PSA's fields on `Contact`).
    pub fn uninstall(&mut self, package: &str) {
        self.objects.retain(|name, _| object(name).is_none_or(|d| d.package != Some(package)));
        for (name, records) in &mut self.objects {
            let Some(def) = object(name) else { continue };
            let added: Vec<&str> = def.fields.iter().filter(|f| f.package == Some(package)).map(|f| f.name).collect();
            if added.is_empty() {
                continue;
            }
            for record in records.iter_mut() {
                record.retain(|key, _| !added.contains(&key.as_str()));
            }
        }
    }

    /// All records by object name.
    pub fn objects(&self) -> &BTreeMap<String, Vec<Record>> {
        &self.objects
    }

    /// Mutable access for tests that tweak data. Nothing is validated here:
    /// a test may deliberately store what Salesforce would never send (call
    /// [`Org::validate`] to check).
    pub fn objects_mut(&mut self) -> &mut BTreeMap<String, Vec<Record>> {
        &mut self.objects
    }

    /// The records of `object` (empty if none).
    pub fn records(&self, object: &str) -> &[Record] {
        self.objects.get(object).map_or(&[], Vec::as_slice)
    }

    /// Consumes the org into its records by object name.
    pub fn into_objects(self) -> BTreeMap<String, Vec<Record>> {
        self.objects
    }

    /// Writes one `<Object>.ndjson` per object held (even if it has no
    /// records), one JSON record per line: the format `load_dir` reads.
    pub fn write_dir(&self, path: &Path) -> anyhow::Result<()> {
        fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
        for (name, records) in &self.objects {
            let file = path.join(format!("{name}.ndjson"));
            let write = || -> std::io::Result<()> {
                let mut out = BufWriter::new(fs::File::create(&file)?);
                for rec in records {
                    serde_json::to_writer(&mut out, rec)?;
                    out.write_all(b"\n")?;
                }
                out.flush()
            };
            write().with_context(|| format!("writing {}", file.display()))?;
        }
        Ok(())
    }
}

/// Reads an NDJSON file into (line number, record) pairs, skipping blank lines.
fn read_ndjson(file: &Path) -> anyhow::Result<Vec<(usize, Record)>> {
    let reader = BufReader::new(fs::File::open(file).with_context(|| format!("opening {}", file.display()))?);
    let mut out = Vec::new();
    for (i, line) in reader.lines().enumerate() {
        let line_no = i + 1;
        let line = line.with_context(|| format!("{}:{line_no}: reading", file.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).with_context(|| format!("{}:{line_no}: not valid JSON", file.display()))?;
        let Value::Object(rec) = value else {
            bail!("{}:{line_no}: a line must hold one JSON object", file.display());
        };
        out.push((line_no, rec));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Record {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    fn user() -> Value {
        json!({
            "Id": "005000000000001AAA",
            "Username": "ana@example.com",
            "IsActive": true,
            "ProfileId": "00e000000000001AAA",
            "Profile": {"Name": "Standard User", "UserLicense": {"Name": "Salesforce"}},
            "UserRole": null,
            "LastLoginDate": "2024-01-15T10:20:30.000+0000"
        })
    }

    #[test]
    fn schema_relationship_targets_exist() {
        for obj in SCHEMA {
            for field in obj.fields {
                if let FieldType::Relationship { target, .. } = field.ty {
                    assert!(object(target).is_some(), "{}.{}", obj.name, field.name);
                }
            }
        }
    }

    #[test]
    fn valid_user_loads_and_round_trips() {
        let org = Org::from_objects(BTreeMap::from([("User".to_string(), vec![rec(user())])])).unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("manifest.json"), "{}").unwrap();
        org.write_dir(dir.path()).unwrap();
        let back = Org::load_dir(dir.path()).unwrap();
        assert_eq!(back, org);
        assert_eq!(
            back.records("User")[0].keys().collect::<Vec<_>>(),
            ["Id", "Username", "IsActive", "ProfileId", "Profile", "UserRole", "LastLoginDate"]
        );
        assert!(back.records("UserLogin").is_empty());
    }

    #[test]
    fn unknown_field_names_file_line_and_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut u = user();
        u["Profile"]["Colour"] = json!("red");
        let text = format!("{}\n\n{}\n", json!({"Id": "005000000000002AAA"}), u);
        std::fs::write(dir.path().join("User.ndjson"), text).unwrap();
        let err = format!("{:#}", Org::load_dir(dir.path()).unwrap_err());
        assert!(err.contains("User.ndjson:3"), "{err}");
        assert!(err.contains("Profile: field `Colour`"), "{err}");
    }

    #[test]
    fn rejects_bad_shapes() {
        let cases = [
            (json!({"Id": "005000000000001AAA", "isactive": true}), "did you mean `IsActive`"),
            (json!({"Id": "005000000000001AAA", "IsActive": "true"}), "JSON boolean"),
            (json!({"Id": "005001", "IsActive": true}), "18-character"),
            (json!({"Id": "005000000000001AAA", "LastLoginDate": "2024-01-15T10:20:30Z"}), "datetime"),
            (json!({"Id": "005000000000001AAA", "Profile": "Standard"}), "nested Profile"),
            (json!({"Username": "x"}), "no `Id`"),
            (json!({"attributes": {"type": "User"}, "Id": "005000000000001AAA"}), "attributes"),
        ];
        for (value, needle) in cases {
            let err =
                Org::from_objects(BTreeMap::from([("User".into(), vec![rec(value.clone())])])).unwrap_err().to_string();
            assert!(err.contains(needle), "{value}: {err}");
        }
        let err = Org::from_objects(BTreeMap::from([("Profile".into(), vec![])])).unwrap_err();
        assert!(err.to_string().contains("not an object the simulator stores"));
        let dup = rec(json!({"Id": "005000000000001AAA"}));
        let err = Org::from_objects(BTreeMap::from([("User".into(), vec![dup.clone(), dup])])).unwrap_err();
        assert!(err.to_string().contains("duplicate User Id"), "{err}");
    }

    #[test]
    fn nested_id_must_match_lookup_field() {
        let psa = json!({
            "Id": "0Pa000000000001AAA",
            "PermissionSetId": "0PS000000000001AAA",
            "PermissionSet": {"Id": "0PS000000000002AAA", "Name": "X"}
        });
        let err = Org::from_objects(BTreeMap::from([("PermissionSetAssignment".into(), vec![rec(psa)])])).unwrap_err();
        assert!(err.to_string().contains("differs from `PermissionSetId`"), "{err}");
    }

    #[test]
    fn unknown_object_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Account.ndjson"), "").unwrap();
        assert!(Org::load_dir(dir.path()).is_err());
    }

    #[test]
    fn datetime_shape() {
        assert!(is_sf_datetime("2024-01-15T10:20:30.000+0000"));
        assert!(!is_sf_datetime("2024-01-15T10:20:30.000+00:00"));
        assert!(!is_sf_datetime("2024-13-15T10:20:30.000+0000"));
        assert!(!is_sf_datetime("2024-01-15T10:20:30.0a0+0000"));
    }
}
