CREATE TABLE `accounts` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`client_id` integer NOT NULL,
	`number` text NOT NULL,
	`url_planfix` text NOT NULL,
	`token_planfix` text NOT NULL,
	`provider_id` text,
	`name_session` text,
	`session_path` text NOT NULL,
	`wanted` text DEFAULT 'running' NOT NULL,
	`state` text DEFAULT 'stopped' NOT NULL,
	`state_reason` text,
	`state_since` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`flood_until` integer,
	`self_user_id` text,
	`pts` integer,
	`qts` integer,
	`upd_date` integer,
	`planfix_error` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `accounts_number_unique` ON `accounts` (`number`);--> statement-breakpoint
CREATE INDEX `accounts_client` ON `accounts` (`client_id`);--> statement-breakpoint
CREATE TABLE `clients` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `clients_name_unique` ON `clients` (`name`);--> statement-breakpoint
CREATE UNIQUE INDEX `clients_token_hash_unique` ON `clients` (`token_hash`);--> statement-breakpoint
CREATE TABLE `peers` (
	`account_id` integer NOT NULL,
	`user_id` text NOT NULL,
	`access_hash` text,
	`username` text,
	`phone` text,
	`first_name` text,
	`last_name` text,
	`updated_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	PRIMARY KEY(`account_id`, `user_id`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `peers_username` ON `peers` (`account_id`,`username`);--> statement-breakpoint
CREATE INDEX `peers_phone` ON `peers` (`account_id`,`phone`);