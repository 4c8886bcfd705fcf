/* The store's migrations, compiled in from schema/sql/NNNN-name.sql (schema/sql/embed-sql.py). */
#pragma once

typedef struct StoreMigration {
        unsigned version; /* the user_version the store has after it */
        const char *name;
        const char *sql;
} StoreMigration;

extern const StoreMigration store_migrations[];
extern const unsigned store_migrations_count;
