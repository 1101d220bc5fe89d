CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`account_id` integer,
	`path` text NOT NULL,
	`name` text NOT NULL,
	`mime_type` text NOT NULL,
	`size` integer NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`expires_at` integer NOT NULL,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE `outbound_jobs` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`client_id` integer NOT NULL,
	`planfix_message_id` text NOT NULL,
	`account_id` integer NOT NULL,
	`chat_id` text NOT NULL,
	`contact_id` text NOT NULL,
	`peer_user_id` text NOT NULL,
	`lookup` text,
	`text` text NOT NULL,
	`attachments` text NOT NULL,
	`random_seed` text NOT NULL,
	`state` text DEFAULT 'pending' NOT NULL,
	`parts_done` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`read_reported` integer DEFAULT false NOT NULL,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	FOREIGN KEY (`client_id`) REFERENCES `clients`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `outbound_jobs_message` ON `outbound_jobs` (`client_id`,`planfix_message_id`);--> statement-breakpoint
CREATE INDEX `outbound_jobs_pending` ON `outbound_jobs` (`account_id`,`state`,`id`);--> statement-breakpoint
CREATE TABLE `planfix_outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`account_id` integer NOT NULL,
	`chat_key` text NOT NULL,
	`kind` text NOT NULL,
	`dedup_key` text NOT NULL,
	`event` text NOT NULL,
	`command` text,
	`state` text DEFAULT 'pending' NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer DEFAULT 0 NOT NULL,
	`last_error` text,
	`created_at` integer DEFAULT (cast(unixepoch('subsec') * 1000 as integer)) NOT NULL,
	`delivered_at` integer,
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE UNIQUE INDEX `planfix_outbox_dedup_key_unique` ON `planfix_outbox` (`dedup_key`);--> statement-breakpoint
CREATE INDEX `planfix_outbox_pending` ON `planfix_outbox` (`account_id`,`state`,`id`);--> statement-breakpoint
CREATE TABLE `sent_messages` (
	`account_id` integer NOT NULL,
	`peer_user_id` text NOT NULL,
	`tg_message_id` integer NOT NULL,
	`job_id` integer NOT NULL,
	PRIMARY KEY(`account_id`, `peer_user_id`, `tg_message_id`),
	FOREIGN KEY (`account_id`) REFERENCES `accounts`(`id`) ON UPDATE no action ON DELETE cascade,
	FOREIGN KEY (`job_id`) REFERENCES `outbound_jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `sent_messages_job` ON `sent_messages` (`job_id`);