package archive

import (
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestSchemaDocNamesEveryColumn keeps docs/schema.md true: every table and
// column the migrations of every driver create has its line there.
func TestSchemaDocNamesEveryColumn(t *testing.T) {
	doc, err := os.ReadFile("../../docs/schema.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]string{} // table → its section
	parts := regexp.MustCompile(`(?m)^## `).Split(string(doc), -1)
	for _, p := range parts[1:] {
		name, body, _ := strings.Cut(p, "\n")
		sections[strings.TrimSpace(name)] = body
	}
	create := regexp.MustCompile(`(?s)CREATE TABLE (\w+) \((.*?)\n\)`)
	colLine := regexp.MustCompile(`^\s+(\w+)\s`)
	for _, driver := range Drivers {
		fsys, err := Migrations(driver)
		if err != nil {
			t.Fatal(err)
		}
		files, _ := fs.Glob(fsys, "*.sql")
		if len(files) == 0 {
			t.Fatalf("%s: no migrations", driver)
		}
		tables := 0
		for _, f := range files {
			src, _ := fs.ReadFile(fsys, f)
			for _, m := range create.FindAllStringSubmatch(string(src), -1) {
				tables++
				table := m[1]
				sec, ok := sections[table]
				if !ok {
					t.Errorf("%s/%s: table %s has no section (## %s) in docs/schema.md", driver, f, table, table)
					continue
				}
				for _, line := range strings.Split(m[2], "\n") {
					c := colLine.FindStringSubmatch(line)
					if c == nil || c[1] == "INDEX" || c[1] == "PRIMARY" {
						continue
					}
					if !strings.Contains(sec, "| `"+c[1]+"` |") {
						t.Errorf("%s/%s: column %s.%s is not described in docs/schema.md", driver, f, table, c[1])
					}
				}
			}
		}
		if tables != 7 {
			t.Errorf("%s: found %d CREATE TABLE statements, expected 7", driver, tables)
		}
	}
}

// TestColumnsMatchMigrations checks that the columns Put writes are the
// columns the SQLite migrations create, in both directions.
func TestColumnsMatchMigrations(t *testing.T) {
	st := openSQLite(t)
	for table, cols := range map[string][]string{"sessions": sessionCols, "session_fields": fieldCols, "session_events": eventCols, "surveys": surveyCols, "recordings": recordingCols} {
		rows, err := st.DB().Query("SELECT name FROM pragma_table_info('" + table + "') ORDER BY cid")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for rows.Next() {
			var n string
			rows.Scan(&n)
			got = append(got, n)
		}
		rows.Close()
		if strings.Join(got, ",") != strings.Join(cols, ",") {
			t.Errorf("%s: the table has %v, Put writes %v", table, got, cols)
		}
	}
}
